"""dlnotes.detection against torchvision.ops, on hand-made cases, and on bad input."""

import pytest
import torch
import torchvision.ops as ops

from dlnotes import detection as det


def random_boxes(n, size=32.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * size
    wh = torch.rand(n, 2, generator=g) * size / 2 + 0.5
    return torch.cat([xy, xy + wh], dim=1)


@pytest.mark.parametrize("in_fmt", det.BOX_FORMATS)
@pytest.mark.parametrize("out_fmt", det.BOX_FORMATS)
def test_box_convert_matches_torchvision(in_fmt, out_fmt):
    boxes = ops.box_convert(random_boxes(10), "xyxy", in_fmt)
    torch.testing.assert_close(det.box_convert(boxes, in_fmt, out_fmt), ops.box_convert(boxes, in_fmt, out_fmt))


def test_box_iou_matches_torchvision_and_hand_cases():
    a, b = random_boxes(20, seed=1), random_boxes(30, seed=2)
    torch.testing.assert_close(det.box_iou(a, b), ops.box_iou(a, b))
    unit = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    cases = torch.tensor([[0.0, 0.0, 2.0, 2.0], [5.0, 5.0, 6.0, 6.0], [1.0, 0.0, 3.0, 2.0]])
    torch.testing.assert_close(det.box_iou(unit, cases), torch.tensor([[1.0, 0.0, 1 / 3]]))


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.8])
def test_nms_and_batched_nms_match_torchvision(threshold):
    boxes, scores = random_boxes(300, seed=3), torch.rand(300, generator=torch.Generator().manual_seed(4))
    classes = torch.randint(0, 4, (300,), generator=torch.Generator().manual_seed(5))
    assert torch.equal(det.nms(boxes, scores, threshold), ops.nms(boxes, scores, threshold))
    assert torch.equal(det.batched_nms(boxes, scores, classes, threshold), ops.batched_nms(boxes, scores, classes, threshold))


def test_anchors_count_matching_and_coding():
    anchors = det.make_anchors((4, 6), stride=8, sizes=(8, 16), aspect_ratios=(0.5, 1.0, 2.0))
    assert anchors.shape == (4 * 6 * 6, 4)
    torch.testing.assert_close(det.box_area(anchors[:3]), torch.full((3,), 64.0))  # same size, three ratios
    gt = torch.tensor([[0.0, 0.0, 8.0, 8.0], [20.0, 10.0, 44.0, 26.0]])
    matches = det.match_anchors(anchors, gt)
    iou = det.box_iou(gt, anchors)
    assert set(matches.unique().tolist()) <= {det.BACKGROUND, det.IGNORE, 0, 1}
    assert (matches[iou.max(0).values >= 0.5] >= 0).all()
    assert torch.equal(matches[iou.argmax(1)], torch.arange(2))  # every box keeps its best anchor
    boxes = random_boxes(len(anchors), seed=6)
    torch.testing.assert_close(det.decode_boxes(det.encode_boxes(boxes, anchors), anchors), boxes, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("sampling_ratio", [-1, 2])
def test_roi_align_matches_torchvision(aligned, sampling_ratio):
    features = torch.randn(2, 3, 10, 12, generator=torch.Generator().manual_seed(7))
    rois = torch.cat([torch.tensor([[0.0], [1.0], [0.0], [1.0]]), random_boxes(4, size=12, seed=8) - 1], dim=1)
    kwargs = dict(spatial_scale=0.5, sampling_ratio=sampling_ratio, aligned=aligned)
    torch.testing.assert_close(det.roi_align(features, rois, (3, 4), **kwargs), ops.roi_align(features, rois, (3, 4), **kwargs))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_focal_loss_matches_torchvision(reduction):
    g = torch.Generator().manual_seed(9)
    logits, targets = 3 * torch.randn(50, generator=g), (torch.rand(50, generator=g) < 0.2).float()
    torch.testing.assert_close(det.sigmoid_focal_loss(logits, targets, reduction=reduction),
                               ops.sigmoid_focal_loss(logits, targets, reduction=reduction))
    ce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    torch.testing.assert_close(det.sigmoid_focal_loss(logits, targets, alpha=-1, gamma=0), ce)  # gamma 0 = BCE


def test_empty_inputs_give_empty_results():
    empty = torch.zeros(0, 4)
    assert det.box_iou(empty, random_boxes(3)).shape == (0, 3)
    assert det.box_iou(random_boxes(3), empty).shape == (3, 0)
    assert det.nms(empty, torch.zeros(0), 0.5).shape == (0,) and det.nms(empty, torch.zeros(0), 0.5).dtype == torch.int64
    assert det.batched_nms(empty, torch.zeros(0), torch.zeros(0, dtype=torch.int64), 0.5).shape == (0,)
    anchors = det.make_anchors((2, 2), stride=4, sizes=(4,), aspect_ratios=(1.0,))
    assert torch.equal(det.match_anchors(anchors, empty), torch.full((4,), det.BACKGROUND))
    assert det.box_convert(empty, "xyxy", "cxcywh").shape == (0, 4)
    assert det.roi_align(torch.randn(1, 2, 5, 5), torch.zeros(0, 5), (2, 2)).shape == (0, 2, 2, 2)


def test_bad_input_raises_value_error():
    flipped = torch.tensor([[5.0, 0.0, 1.0, 4.0]])  # x2 < x1
    with pytest.raises(ValueError, match="x2 >= x1"):
        det.box_iou(flipped, random_boxes(2))
    with pytest.raises(ValueError, match="x2 >= x1"):
        det.nms(flipped, torch.ones(1), 0.5)
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        det.box_iou(torch.zeros(3, 5), random_boxes(2))
    with pytest.raises(ValueError, match="shape"):
        det.nms(random_boxes(3), torch.ones(2), 0.5)
    with pytest.raises(ValueError, match="format"):
        det.box_convert(random_boxes(2), "xyxy", "yxyx")
    with pytest.raises(ValueError, match="width >= 0"):
        det.box_convert(torch.tensor([[0.0, 0.0, -1.0, 2.0]]), "xywh", "xyxy")
    with pytest.raises(ValueError, match=r"\(K, 5\)"):
        det.roi_align(torch.randn(1, 2, 5, 5), random_boxes(2), (2, 2))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        det.roi_align(torch.randn(2, 5, 5), torch.zeros(1, 5), (2, 2))
    with pytest.raises(ValueError, match="same shape"):
        det.sigmoid_focal_loss(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="same shape"):
        det.encode_boxes(random_boxes(3), random_boxes(2))
    with pytest.raises(ValueError, match="positive"):
        det.make_anchors((0, 3), stride=4, sizes=(4,), aspect_ratios=(1.0,))


# --- average precision on hand-made cases -------------------------------------------------------------

def _box(x, y, s=10.0):
    return [x, y, x + s, y + s]


GT2 = [torch.tensor([_box(0, 0), _box(20, 20)])]  # one image, two objects


@pytest.mark.parametrize("boxes, scores, expected", [
    ([_box(0, 0), _box(20, 20)], [0.9, 0.8], 1.0),                       # perfect
    ([_box(0, 0)], [0.9], 0.5),                                          # one object missed: recall stops at 1/2
    ([_box(40, 40), _box(0, 0), _box(20, 20)], [0.9, 0.8, 0.7], 2 / 3),  # a confident false positive first
    ([_box(0, 0), _box(1, 0), _box(20, 20)], [0.9, 0.8, 0.7], 5 / 6),    # a duplicate of object 1 before object 2
    ([_box(20, 20), _box(0, 0), _box(40, 40)], [0.9, 0.8, 0.7], 1.0),    # a false positive after full recall costs nothing
    ([_box(5, 5), _box(20, 20)], [0.9, 0.8], 0.25),                      # IoU 25/175 < 0.5: a false positive, a miss
])
def test_average_precision_hand_cases(boxes, scores, expected):
    ap = det.average_precision([torch.tensor(boxes)], [torch.tensor(scores)], GT2)
    assert ap == pytest.approx(expected)


def test_matching_is_per_image_and_in_score_order():
    gt = [torch.tensor([_box(0, 0)]), torch.tensor([_box(0, 0)])]
    preds = [torch.tensor([_box(0, 0)]), torch.tensor([_box(0, 0), _box(0, 1)])]
    scores, is_tp, num_gt = det.match_detections(preds, [torch.tensor([0.5]), torch.tensor([0.6, 0.9])], gt)
    assert num_gt == 2 and scores.tolist() == pytest.approx([0.9, 0.6, 0.5])
    assert is_tp.tolist() == [True, False, True]  # the 0.9 box claims image 1's object first; 0.6 is a duplicate


def test_average_precision_matches_sklearn_when_no_object_is_missed():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(0)
    gt = [torch.tensor([_box(0, 0), _box(30, 30)]) for _ in range(5)]
    far = [torch.tensor([_box(60 + 12 * k, 60) for k in range(i % 3)]).reshape(-1, 4) for i in range(5)]
    preds = [torch.cat([g_i, f_i]) for g_i, f_i in zip(gt, far)]  # every object found, plus 0-2 false positives
    scores = [torch.rand(len(p), generator=g) for p in preds]
    s, is_tp, num_gt = det.match_detections(preds, scores, gt)
    assert int(is_tp.sum()) == num_gt  # every object found, so recall reaches 1
    precision, _ = det.precision_recall(is_tp, num_gt)
    raw = float((precision * is_tp).sum() / num_gt)  # non-interpolated AP: precision at each true positive
    assert raw == pytest.approx(sklearn_metrics.average_precision_score(is_tp.numpy(), s.numpy()))
    assert det.average_precision(preds, scores, gt) >= raw - 1e-7  # the envelope can only raise it


def test_mean_average_precision_averages_classes_with_ground_truth():
    gt_boxes, gt_labels = GT2, [torch.tensor([0, 1])]
    pred_boxes = [torch.tensor([_box(0, 0), _box(40, 40), _box(20, 20)])]
    pred_scores, pred_labels = [torch.tensor([0.9, 0.8, 0.7])], [torch.tensor([0, 1, 1])]
    m, per_class = det.mean_average_precision(pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels)
    assert per_class == pytest.approx({0: 1.0, 1: 0.5})  # class 1: false positive first, then its object
    assert m == pytest.approx(0.75)
    # a prediction of a class with no ground truth is ignored
    m2, per_class2 = det.mean_average_precision(pred_boxes, pred_scores, [torch.tensor([0, 2, 1])], gt_boxes, gt_labels)
    assert set(per_class2) == {0, 1} and m2 == pytest.approx(1.0)


def test_empty_predictions_and_empty_ground_truth():
    empty = [torch.zeros(0, 4)]
    assert det.average_precision(empty, [torch.zeros(0)], GT2) == 0.0
    m, per_class = det.mean_average_precision(empty, [torch.zeros(0)], [torch.zeros(0, dtype=torch.long)],
                                              GT2, [torch.tensor([0, 1])])
    assert m == 0.0 and per_class == {0: 0.0, 1: 0.0}
    # images without objects are fine; their detections are false positives
    ap = det.average_precision([torch.tensor([_box(0, 0)]), torch.tensor([_box(0, 0)])],
                               [torch.tensor([0.5]), torch.tensor([0.9])], [GT2[0][:1], torch.zeros(0, 4)])
    assert ap == pytest.approx(0.5)  # the false positive comes first: precision 1/2 at recall 1
    with pytest.raises(ValueError, match="without ground-truth"):
        det.average_precision([torch.tensor([_box(0, 0)])], [torch.tensor([0.9])], [torch.zeros(0, 4)])
    with pytest.raises(ValueError, match="without ground-truth"):
        det.mean_average_precision(empty, [torch.zeros(0)], [torch.zeros(0, dtype=torch.long)],
                                   [torch.zeros(0, 4)], [torch.zeros(0, dtype=torch.long)])


@pytest.mark.parametrize("call, match", [
    (lambda: det.average_precision(torch.zeros(1, 4), [torch.zeros(1)], GT2), "list with one tensor per image"),
    (lambda: det.average_precision([torch.zeros(1, 4)], [torch.zeros(1)], GT2 * 2), "images, expected"),
    (lambda: det.average_precision([torch.zeros(1, 4)], [torch.zeros(2)], GT2), "pred_scores"),
    (lambda: det.average_precision([torch.tensor([[5.0, 0, 0, 5]])], [torch.zeros(1)], GT2), "x2 >= x1"),
    (lambda: det.average_precision([torch.zeros(1, 4)], [torch.zeros(1)], GT2, iou_threshold=0), "iou_threshold"),
    (lambda: det.mean_average_precision([torch.zeros(1, 4)], [torch.zeros(1)], [torch.zeros(2)], GT2,
                                        [torch.tensor([0, 1])]), "one entry per box"),
])
def test_average_precision_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
