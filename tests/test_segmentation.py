"""dlnotes.segmentation: metrics and Dice on hand-made masks, model shapes, bilinear kernel, and bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from dlnotes import segmentation as seg

# 2x3 masks: true has 3 pixels of class 1; pred gets 2 of them and adds 1 false positive
TRUE = torch.tensor([[0, 1, 1], [0, 0, 1]])
PRED = torch.tensor([[0, 1, 1], [1, 0, 0]])


def test_confusion_matrix_and_metrics_on_hand_made_masks():
    cm = seg.confusion_matrix(PRED, TRUE, 2)
    assert cm.tolist() == [[2, 1], [1, 2]]  # rows = true, columns = predicted
    assert seg.pixel_accuracy(PRED, TRUE, 2) == pytest.approx(4 / 6)
    torch.testing.assert_close(seg.iou_per_class(PRED, TRUE, 2), torch.tensor([2 / 4, 2 / 4], dtype=torch.float64))
    assert seg.mean_iou(PRED, TRUE, 2) == pytest.approx(0.5)


def test_absent_class_is_nan_and_left_out_of_the_mean():
    iou = seg.iou_per_class(PRED, TRUE, 3)
    assert math.isnan(iou[2].item())
    assert seg.mean_iou(PRED, TRUE, 3) == pytest.approx(0.5)
    assert seg.mean_iou(TRUE, TRUE, 3) == pytest.approx(1.0)


def test_confusion_matrix_matches_a_loop_over_pixels():
    g = torch.Generator().manual_seed(0)
    pred, true = torch.randint(0, 4, (2, 5, 7), generator=g), torch.randint(0, 4, (2, 5, 7), generator=g)
    loop = torch.zeros(4, 4, dtype=torch.long)
    for t, p in zip(true.flatten().tolist(), pred.flatten().tolist()):
        loop[t, p] += 1
    assert torch.equal(seg.confusion_matrix(pred, true, 4), loop)


def test_dice_loss_hand_made_cases():
    target = torch.tensor([[[0, 1], [1, 1]]])  # (1, 2, 2)
    perfect = F.one_hot(target, 2).permute(0, 3, 1, 2).float() * 50  # confident and right
    assert seg.dice_loss(perfect, target, eps=0.0).item() == pytest.approx(0.0, abs=1e-6)
    wrong = -perfect
    assert seg.dice_loss(wrong, target, eps=0.0).item() == pytest.approx(1.0, abs=1e-6)
    flat = torch.zeros(1, 2, 2, 2)  # p = 0.5 everywhere: class 0 dice = 2*0.5/(2+1), class 1 = 2*1.5/(2+3)
    expected = 1 - (1 / 3 + 3 / 5) / 2
    assert seg.dice_loss(flat, target, eps=0.0).item() == pytest.approx(expected)
    assert seg.dice_loss(flat, target, eps=0.0, ignore_background=True).item() == pytest.approx(1 - 3 / 5)


def test_models_keep_the_image_size_and_aspp_shape():
    x = torch.rand(2, 3, 32, 32)
    for model in (seg.SmallFCN(num_classes=3), seg.SmallFCN(num_classes=3, upsample="bilinear"),
                  seg.SmallUNet(num_classes=3)):
        assert model(x).shape == (2, 3, 32, 32)
    assert seg.ASPP(3, 8, dilations=(1, 2)).eval()(x).shape == (2, 8, 32, 32)


def test_bilinear_kernel_equals_interpolate_away_from_the_border():
    x = torch.randn(1, 2, 6, 6)
    up = F.conv_transpose2d(x, seg.bilinear_kernel(2, 4), stride=4, padding=2)
    ref = F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
    torch.testing.assert_close(up[..., 2:-2, 2:-2], ref[..., 2:-2, 2:-2])


def test_aspp_equals_torchvision_deeplabv3_aspp_in_eval_mode():
    from torchvision.models.segmentation.deeplabv3 import ASPP as TorchvisionASPP

    torch.manual_seed(0)
    ours, theirs = seg.ASPP(8, 4, dilations=(2, 3)).eval(), TorchvisionASPP(8, [2, 3], 4).eval()
    for p in ours.parameters():  # non-trivial weights and BN statistics
        p.data.normal_()
    theirs.load_state_dict(dict(zip(theirs.state_dict(), ours.state_dict().values())))
    x = torch.randn(2, 8, 9, 9)
    torch.testing.assert_close(ours(x), theirs(x))


@pytest.mark.parametrize("pred, true, num_classes", [
    (torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long), 2),  # wrong shape
    (torch.tensor([[0, 2]]), torch.tensor([[0, 1]]), 2),                            # label >= num_classes
    (torch.tensor([[0, -1]]), torch.tensor([[0, 1]]), 2),                           # negative label
    (torch.zeros(1, 2), torch.zeros(1, 2, dtype=torch.long), 2),                    # float "labels"
    (torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long), 1),  # too few classes
])
def test_bad_masks_raise_value_error(pred, true, num_classes):
    with pytest.raises(ValueError):
        seg.confusion_matrix(pred, true, num_classes)


def test_bad_dice_and_model_input_raise_value_error():
    with pytest.raises(ValueError, match="target"):
        seg.dice_loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 4, 5, dtype=torch.long))
    with pytest.raises(ValueError):
        seg.dice_loss(torch.zeros(1, 2, 4, 4), torch.full((1, 4, 4), 2))
    with pytest.raises(ValueError):
        seg.SmallFCN(upsample="nearest")
    with pytest.raises(ValueError):
        seg.bilinear_kernel(2, 3)
