"""Model zoo of the book, one module per chapter: `classic` (LeNet-5, AlexNet, VGG, GoogLeNet),
`resnet` (ResNet, ResNeXt), `densenet` (DenseNet), `attention_cnn` (SE, CBAM, CSP); for sequences,
`rnn` (RNN, LSTM and GRU cells written out) and `seq2seq` (encoder-decoder with additive attention).

Every constructor builds a randomly initialised model; nothing is downloaded.
"""

from dlnotes.models.classic import (
    GOOGLENET_TABLE, VGG_A, VGG_B, VGG_D, VGG_E, VGG, AlexNet, ConvBNReLU, GoogLeNet, GoogLeNetOutputs, Inception,
    InceptionAux, LeNet5, alexnet, googlenet, lenet5, vgg, vgg11, vgg16,
)
from dlnotes.models.densenet import DenseBlock, DenseLayer, DenseNet, Transition, densenet121
from dlnotes.models.resnet import (
    BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d,
)

__all__ = [
    "LeNet5", "lenet5", "AlexNet", "alexnet", "VGG", "vgg", "vgg11", "vgg16", "VGG_A", "VGG_B", "VGG_D", "VGG_E",
    "ConvBNReLU", "Inception", "InceptionAux", "GoogLeNet", "GoogLeNetOutputs", "GOOGLENET_TABLE", "googlenet",
    "BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "resnext50_32x4d",
    "DenseLayer", "DenseBlock", "Transition", "DenseNet", "densenet121",
]
