"""Model zoo of the book, one module per chapter: `classic` (LeNet-5, AlexNet, VGG, GoogLeNet),
`resnet` (ResNet, ResNeXt), `densenet` (DenseNet), `attention_cnn` (SE, CBAM, CSP), `mobile` (SqueezeNet,
MobileNet v1-v3, ShuffleNet v1/v2) and `mobile_efficient` (GhostNet, EfficientNet-B0, PP-LCNet) with their
blocks in `mobile_blocks`; for sequences,
`rnn` (RNN, LSTM and GRU cells written out) and `seq2seq` (encoder-decoder with additive attention); for
transformers, `attention` (scaled dot-product and multi-head attention, KV cache, positions, the transformer
block, Swin's windows), `vit` (Vision Transformer, vit_b_16), `swin` (Swin Transformer: window attention with
relative position bias, patch merging, swin_t) and `convnext` (ConvNeXt block, LayerNorm2d, convnext_tiny).

Every constructor builds a randomly initialised model; nothing is downloaded.
"""

from dlnotes.models.attention import (
    KVCache, MultiHeadAttention, TransformerBlock, apply_rotary, scaled_dot_product_attention, shifted_window_mask,
    sinusoidal_positions, window_partition, window_reverse,
)
from dlnotes.models.classic import (
    GOOGLENET_TABLE, VGG_A, VGG_B, VGG_D, VGG_E, VGG, AlexNet, ConvBNReLU, GoogLeNet, GoogLeNetOutputs, Inception,
    InceptionAux, LeNet5, alexnet, googlenet, lenet5, vgg, vgg11, vgg16,
)
from dlnotes.models.convnext import CONVNEXT_TINY_TABLE, ConvNeXt, ConvNeXtBlock, LayerNorm2d, convnext_tiny
from dlnotes.models.densenet import DenseBlock, DenseLayer, DenseNet, Transition, densenet121
from dlnotes.models.mobile import (
    MOBILENET_V1_TABLE, MOBILENET_V2_TABLE, MOBILENET_V3_LARGE, MOBILENET_V3_SMALL, SHUFFLENET_V1_TABLE, MobileNetV1,
    MobileNetV2, MobileNetV3, ShuffleNetV1, ShuffleNetV2, SqueezeNet, mobilenet_v1, mobilenet_v2, mobilenet_v3_large,
    mobilenet_v3_small, shufflenet_v1, shufflenet_v2_x1_0, squeezenet1_0, squeezenet1_1,
)
from dlnotes.models.mobile_blocks import (
    DepthwiseSeparable, Fire, GhostBottleneck, GhostModule, InvertedResidual, MBConv, ShuffleV1Unit, ShuffleV2Unit,
    SqueezeExcite, channel_shuffle, conv_bn_act, drop_path, make_divisible,
)
from dlnotes.models.mobile_efficient import (
    EFFICIENTNET_B0_TABLE, GHOSTNET_TABLE, LCNET_TABLE, EfficientNet, GhostNet, LCNet, efficientnet_b0, ghostnet, lcnet,
)
from dlnotes.models.resnet import (
    BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d,
)
from dlnotes.models.swin import (
    SWIN_T_TABLE, PatchMerging, SwinBlock, SwinTransformer, WindowAttention, relative_position_index, swin_t,
)
from dlnotes.models.vit import PatchEmbed, VisionTransformer, interpolate_positions, vit_b_16

__all__ = [
    "LeNet5", "lenet5", "AlexNet", "alexnet", "VGG", "vgg", "vgg11", "vgg16", "VGG_A", "VGG_B", "VGG_D", "VGG_E",
    "ConvBNReLU", "Inception", "InceptionAux", "GoogLeNet", "GoogLeNetOutputs", "GOOGLENET_TABLE", "googlenet",
    "BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "resnext50_32x4d",
    "DenseLayer", "DenseBlock", "Transition", "DenseNet", "densenet121",
    "make_divisible", "conv_bn_act", "drop_path", "SqueezeExcite", "Fire", "DepthwiseSeparable", "InvertedResidual",
    "MBConv", "channel_shuffle", "ShuffleV1Unit", "ShuffleV2Unit", "GhostModule", "GhostBottleneck",
    "SqueezeNet", "squeezenet1_0", "squeezenet1_1", "MobileNetV1", "mobilenet_v1", "MOBILENET_V1_TABLE",
    "MobileNetV2", "mobilenet_v2", "MOBILENET_V2_TABLE", "MobileNetV3", "mobilenet_v3_large", "mobilenet_v3_small",
    "MOBILENET_V3_LARGE", "MOBILENET_V3_SMALL", "ShuffleNetV1", "shufflenet_v1", "SHUFFLENET_V1_TABLE",
    "ShuffleNetV2", "shufflenet_v2_x1_0", "GhostNet", "ghostnet", "GHOSTNET_TABLE", "EfficientNet",
    "efficientnet_b0", "EFFICIENTNET_B0_TABLE", "LCNet", "lcnet", "LCNET_TABLE",
    # chapter 5: transformers
    "scaled_dot_product_attention", "KVCache", "MultiHeadAttention", "sinusoidal_positions", "apply_rotary",
    "TransformerBlock", "window_partition", "window_reverse", "shifted_window_mask",
    "PatchEmbed", "VisionTransformer", "interpolate_positions", "vit_b_16",
    "relative_position_index", "WindowAttention", "SwinBlock", "PatchMerging", "SwinTransformer", "SWIN_T_TABLE",
    "swin_t", "LayerNorm2d", "ConvNeXtBlock", "ConvNeXt", "CONVNEXT_TINY_TABLE", "convnext_tiny",
]
