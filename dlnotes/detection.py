"""The building blocks of object detection: box formats, IoU, NMS, anchors, box coding, RoIAlign, focal loss, mAP.

Boxes are float tensors (N, 4); "xyxy" means (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2, in pixels.
Each function has a torchvision twin (torchvision.ops) that the tests compare it with.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")
BACKGROUND, IGNORE = -1, -2  # match_anchors' labels for anchors that match no box


def _check_boxes(boxes: Tensor, name: str = "boxes", fmt: str = "xyxy") -> None:
    """Raise ValueError unless boxes is a (N, 4) tensor of valid boxes in format fmt."""
    if not isinstance(boxes, Tensor) or boxes.dim() != 2 or boxes.shape[1] != 4:
        shape = tuple(boxes.shape) if isinstance(boxes, Tensor) else type(boxes).__name__
        raise ValueError(f"{name} must be a tensor of shape (N, 4), got {shape}")
    if fmt not in BOX_FORMATS:
        raise ValueError(f"box format must be one of {BOX_FORMATS}, got {fmt!r}")
    if fmt == "xyxy":
        bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
        what = "x2 >= x1 and y2 >= y1"
    else:
        bad = (boxes[:, 2] < 0) | (boxes[:, 3] < 0)
        what = "width >= 0 and height >= 0"
    if bad.any():
        i = int(bad.nonzero()[0])
        raise ValueError(f"{name} must have {what} ({fmt}); box {i} is {boxes[i].tolist()}")


def box_convert(boxes: Tensor, in_fmt: str, out_fmt: str) -> Tensor:
    """(N, 4) boxes from in_fmt to out_fmt, each one of "xyxy", "xywh" (corner + size), "cxcywh" (centre + size)."""
    _check_boxes(boxes, fmt=in_fmt)
    if out_fmt not in BOX_FORMATS:
        raise ValueError(f"box format must be one of {BOX_FORMATS}, got {out_fmt!r}")
    a, b, c, d = boxes.unbind(1)
    if in_fmt == "xywh":  # -> xyxy
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    # now (a, b, c, d) = (x1, y1, x2, y2)
    if out_fmt == "xywh":
        a, b, c, d = a, b, c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = (a + c) / 2, (b + d) / 2, c - a, d - b
    return torch.stack([a, b, c, d], dim=1)


def box_area(boxes: Tensor) -> Tensor:
    """(N, 4) xyxy -> (N,) areas."""
    _check_boxes(boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Pairwise intersection over union: (N, 4), (M, 4) xyxy -> (N, M), as torchvision.ops.box_iou."""
    area1, area2 = box_area(boxes1), box_area(boxes2)
    top_left = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    wh = (bottom_right - top_left).clamp(min=0)  # no overlap -> 0
    inter = wh[..., 0] * wh[..., 1]  # (N, M)
    return inter / (area1[:, None] + area2[None, :] - inter)


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression: indices (K,) of kept boxes, by decreasing score, as torchvision.ops.nms."""
    _check_boxes(boxes)
    if scores.shape != boxes.shape[:1]:
        raise ValueError(f"scores must have shape ({len(boxes)},), got {tuple(scores.shape)}")
    order = scores.argsort(descending=True)
    iou = box_iou(boxes, boxes)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)  # the best box still standing survives ...
        suppressed |= iou[i] > iou_threshold  # ... and removes every box that overlaps it too much
    return torch.tensor(keep, dtype=torch.int64)


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """NMS within each class idxs (N,): boxes of different classes never suppress each other."""
    _check_boxes(boxes)
    if idxs.shape != boxes.shape[:1]:
        raise ValueError(f"idxs must have shape ({len(boxes)},), got {tuple(idxs.shape)}")
    if len(boxes) == 0:
        return torch.empty(0, dtype=torch.int64)
    # move each class to its own region of the plane, far from the others, and run one NMS
    offsets = idxs.to(boxes) * (boxes.max() - boxes.min() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def make_anchors(feature_size: tuple[int, int], *, stride: float, sizes: Sequence[float],
                 aspect_ratios: Sequence[float]) -> Tensor:
    """Anchors (H * W * A, 4) xyxy, A = len(sizes) * len(aspect_ratios), centred on each cell of an H x W map."""
    h, w = feature_size
    if h <= 0 or w <= 0 or stride <= 0 or min(sizes) <= 0 or min(aspect_ratios) <= 0:
        raise ValueError("feature_size, stride, sizes and aspect_ratios must all be positive")
    # A base anchors around (0, 0): ratio = height / width, area = size ** 2
    base = [(-s / math.sqrt(r) / 2, -s * math.sqrt(r) / 2, s / math.sqrt(r) / 2, s * math.sqrt(r) / 2)
            for s in sizes for r in aspect_ratios]
    base = torch.tensor(base, dtype=torch.float32)  # (A, 4)
    cy, cx = torch.meshgrid((torch.arange(h) + 0.5) * stride, (torch.arange(w) + 0.5) * stride, indexing="ij")
    centres = torch.stack([cx, cy, cx, cy], dim=-1).reshape(-1, 1, 4)  # (H * W, 1, 4)
    return (centres + base).reshape(-1, 4)  # (H * W * A, 4), anchor index = (row * W + col) * A + a


def match_anchors(anchors: Tensor, gt_boxes: Tensor, *, pos_iou: float = 0.5, neg_iou: float = 0.4) -> Tensor:
    """(A,) index of the matched box for each anchor, BACKGROUND (-1) below neg_iou, IGNORE (-2) in between.

    Every ground-truth box also keeps its best anchor, even below pos_iou (as Faster R-CNN and RetinaNet do).
    """
    _check_boxes(anchors, "anchors")
    _check_boxes(gt_boxes, "gt_boxes")
    if not neg_iou <= pos_iou:
        raise ValueError(f"need neg_iou <= pos_iou, got {neg_iou} and {pos_iou}")
    if len(gt_boxes) == 0:
        return torch.full((len(anchors),), BACKGROUND, dtype=torch.int64)
    iou = box_iou(gt_boxes, anchors)  # (G, A)
    best_iou, matches = iou.max(dim=0)  # best box for each anchor
    matches[best_iou < pos_iou] = IGNORE
    matches[best_iou < neg_iou] = BACKGROUND
    if len(anchors) > 0:
        best_anchor = iou.argmax(dim=1)  # (G,) best anchor for each box
        matches[best_anchor] = torch.arange(len(gt_boxes))
    return matches


def encode_boxes(boxes: Tensor, anchors: Tensor) -> Tensor:
    """Regression targets (N, 4) = (dx, dy, dw, dh) of xyxy boxes relative to their anchors (R-CNN's coding)."""
    _check_boxes(anchors, "anchors")
    if boxes.shape != anchors.shape:
        raise ValueError(f"boxes and anchors must have the same shape, got {tuple(boxes.shape)}, {tuple(anchors.shape)}")
    ax, ay, aw, ah = box_convert(anchors, "xyxy", "cxcywh").unbind(1)
    bx, by, bw, bh = box_convert(boxes, "xyxy", "cxcywh").unbind(1)
    return torch.stack([(bx - ax) / aw, (by - ay) / ah, torch.log(bw / aw), torch.log(bh / ah)], dim=1)


def decode_boxes(deltas: Tensor, anchors: Tensor) -> Tensor:
    """Inverse of encode_boxes: (N, 4) deltas + (N, 4) anchors -> (N, 4) xyxy boxes."""
    _check_boxes(anchors, "anchors")
    if deltas.shape != anchors.shape:
        raise ValueError(f"deltas and anchors must have the same shape, got {tuple(deltas.shape)}, {tuple(anchors.shape)}")
    ax, ay, aw, ah = box_convert(anchors, "xyxy", "cxcywh").unbind(1)
    dx, dy, dw, dh = deltas.unbind(1)
    centre_size = torch.stack([ax + dx * aw, ay + dy * ah, aw * torch.exp(dw), ah * torch.exp(dh)], dim=1)
    return box_convert(centre_size, "cxcywh", "xyxy")


def _interpolation_matrix(coords: Tensor, size: int) -> Tensor:
    """(S,) sample coordinates -> (S, size) bilinear weights, with RoIAlign's border rules."""
    weights = torch.zeros(len(coords), size)
    valid = (coords >= -1) & (coords <= size)  # samples farther out than one pixel read 0
    c = coords.clamp(min=0)
    low = c.floor().long().clamp(max=size - 1)
    high = (low + 1).clamp(max=size - 1)
    frac = torch.where(low >= size - 1, torch.zeros_like(c), c - low)  # at the last row/column: no blending
    rows = torch.arange(len(coords))
    weights[rows, low] += (1 - frac) * valid
    weights[rows, high] += frac * valid
    return weights


def roi_align(features: Tensor, rois: Tensor, output_size: tuple[int, int], *, spatial_scale: float = 1.0,
              sampling_ratio: int = -1, aligned: bool = False) -> Tensor:
    """RoIAlign: features (B, C, H, W), rois (K, 5) = (batch index, x1, y1, x2, y2) -> (K, C, *output_size)."""
    if features.dim() != 4:
        raise ValueError(f"features must have shape (B, C, H, W), got {tuple(features.shape)}")
    if rois.dim() != 2 or rois.shape[1] != 5:
        raise ValueError(f"rois must have shape (K, 5) = (batch index, x1, y1, x2, y2), got {tuple(rois.shape)}")
    _check_boxes(rois[:, 1:], "rois[:, 1:]")
    _, c, h, w = features.shape
    ph, pw = output_size
    out = features.new_zeros(len(rois), c, ph, pw)
    offset = 0.5 if aligned else 0.0  # aligned: pixel (i, j) has its centre at (i + 0.5, j + 0.5)
    for k, (b, x1, y1, x2, y2) in enumerate(rois.tolist()):
        x1, y1, x2, y2 = (v * spatial_scale - offset for v in (x1, y1, x2, y2))
        roi_w, roi_h = x2 - x1, y2 - y1
        if not aligned:  # the legacy version forces RoIs to be at least 1 x 1
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / ph)  # samples per bin, vertically
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / pw)
        # sample points: a gh x gw regular grid inside each of the ph x pw bins
        ys = y1 + (torch.arange(ph * gh) + 0.5) * roi_h / (ph * gh)  # (ph * gh,)
        xs = x1 + (torch.arange(pw * gw) + 0.5) * roi_w / (pw * gw)
        wy, wx = _interpolation_matrix(ys, h), _interpolation_matrix(xs, w)  # (ph*gh, H), (pw*gw, W)
        samples = wy @ features[int(b)] @ wx.T  # bilinear value at every sample point: (C, ph*gh, pw*gw)
        if gh > 0 and gw > 0:  # an empty RoI (aligned=True) has no samples and stays 0
            out[k] = F.avg_pool2d(samples[None], (gh, gw))[0]  # mean per bin: (C, ph, pw)
    return out


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, *, alpha: float = 0.25, gamma: float = 2.0,
                       reduction: str = "none") -> Tensor:
    """Focal loss (Lin et al., 2017): BCE scaled by alpha_t * (1 - p_t) ** gamma, as torchvision.ops.sigmoid_focal_loss."""
    if logits.shape != targets.shape:
        raise ValueError(f"logits and targets must have the same shape, got {tuple(logits.shape)}, {tuple(targets.shape)}")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)  # probability given to the true label
    loss = ce * (1 - p_t) ** gamma  # easy examples (p_t near 1) are scaled towards 0
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _check_image_lists(name: str, lists: dict[str, Sequence[Tensor]], n_images: int | None = None) -> int:
    """Raise ValueError unless every value is a list of tensors with one entry per image; return the count."""
    for key, value in lists.items():
        if isinstance(value, Tensor) or not isinstance(value, (list, tuple)):
            raise ValueError(f"{key} must be a list with one tensor per image, got {type(value).__name__}")
        if n_images is None:
            n_images = len(value)
        if len(value) != n_images:
            raise ValueError(f"{name}: {key} has {len(value)} images, expected {n_images}")
    return n_images or 0


def match_detections(pred_boxes: Sequence[Tensor], pred_scores: Sequence[Tensor], gt_boxes: Sequence[Tensor], *,
                     iou_threshold: float = 0.5) -> tuple[Tensor, Tensor, int]:
    """One class over a list of images: (scores (D,), is_true_positive (D,) bool) by decreasing score, and #GT.

    Detections are taken in score order over all images (ties keep image order, then list order); each one
    claims the unclaimed ground-truth box of its image with the highest IoU, and is a true positive when
    that IoU is >= iou_threshold. A second detection of a claimed box (a duplicate) is a false positive.
    """
    n = _check_image_lists("match_detections", {"pred_boxes": pred_boxes, "pred_scores": pred_scores,
                                                 "gt_boxes": gt_boxes})
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
    for i in range(n):
        _check_boxes(pred_boxes[i], f"pred_boxes[{i}]")
        _check_boxes(gt_boxes[i], f"gt_boxes[{i}]")
        if pred_scores[i].shape != pred_boxes[i].shape[:1]:
            raise ValueError(f"pred_scores[{i}] must have shape ({len(pred_boxes[i])},), got {tuple(pred_scores[i].shape)}")
    num_gt = sum(len(g) for g in gt_boxes)
    if n == 0 or sum(len(b) for b in pred_boxes) == 0:
        return torch.zeros(0), torch.zeros(0, dtype=torch.bool), num_gt
    scores = torch.cat([s.float() for s in pred_scores])  # (D,)
    image = torch.cat([torch.full((len(b),), i) for i, b in enumerate(pred_boxes)])  # image of each detection
    index = torch.cat([torch.arange(len(b)) for b in pred_boxes])  # its index within the image
    order = scores.argsort(descending=True, stable=True)
    ious = [box_iou(p.float(), g.float()) if len(g) else None for p, g in zip(pred_boxes, gt_boxes)]  # (d_i, g_i)
    claimed = [torch.zeros(len(g), dtype=torch.bool) for g in gt_boxes]
    is_tp = torch.zeros(len(scores), dtype=torch.bool)
    for rank, d in enumerate(order.tolist()):
        i, j = int(image[d]), int(index[d])
        if ious[i] is None:
            continue  # no ground truth in this image: a false positive
        iou = ious[i][j].masked_fill(claimed[i], -1.0)  # claimed boxes are out of reach
        best = int(iou.argmax())
        if iou[best] >= iou_threshold:
            claimed[i][best] = True
            is_tp[rank] = True
    return scores[order], is_tp, num_gt


def precision_recall(is_tp: Tensor, num_gt: int) -> tuple[Tensor, Tensor]:
    """Precision and recall (D,) after each of D detections sorted by decreasing score."""
    if num_gt <= 0:
        raise ValueError(f"recall needs at least one ground-truth box, got num_gt={num_gt}")
    tp = is_tp.float().cumsum(0)
    return tp / torch.arange(1, len(tp) + 1), tp / num_gt


def average_precision(pred_boxes: Sequence[Tensor], pred_scores: Sequence[Tensor], gt_boxes: Sequence[Tensor], *,
                      iou_threshold: float = 0.5) -> float:
    """AP of one class over a list of images: area under the interpolated precision-recall curve (all points).

    Interpolated precision at recall r is the best precision at any recall >= r (VOC 2010+); the area is
    summed over every recall step, with no 11- or 101-point sampling. No detections give AP 0. Without
    ground truth AP is undefined: ValueError.
    """
    _, is_tp, num_gt = match_detections(pred_boxes, pred_scores, gt_boxes, iou_threshold=iou_threshold)
    if num_gt == 0:
        raise ValueError("average precision is undefined without ground-truth boxes")
    if len(is_tp) == 0:
        return 0.0
    precision, recall = precision_recall(is_tp, num_gt)
    envelope = precision.flip(0).cummax(0).values.flip(0)  # best precision at this recall or beyond
    steps = torch.diff(recall, prepend=recall.new_zeros(1))  # recall gained at each detection
    return float((steps * envelope).sum())


def mean_average_precision(pred_boxes: Sequence[Tensor], pred_scores: Sequence[Tensor], pred_labels: Sequence[Tensor],
                           gt_boxes: Sequence[Tensor], gt_labels: Sequence[Tensor], *,
                           iou_threshold: float = 0.5) -> tuple[float, dict[int, float]]:
    """mAP over a list of images, per image boxes (k, 4) xyxy, scores (k,), labels (k,): (mAP, {class: AP}).

    The mean runs over the classes that have ground truth (as COCO does); predictions of other classes
    are ignored. A list with no ground-truth box at all raises ValueError.
    """
    n = _check_image_lists("mean_average_precision", {"pred_boxes": pred_boxes, "pred_scores": pred_scores,
                                                       "pred_labels": pred_labels, "gt_boxes": gt_boxes,
                                                       "gt_labels": gt_labels})
    for i in range(n):
        if pred_labels[i].shape != pred_boxes[i].shape[:1] or gt_labels[i].shape != gt_boxes[i].shape[:1]:
            raise ValueError(f"image {i}: labels must have one entry per box, got {tuple(pred_labels[i].shape)} for "
                             f"{len(pred_boxes[i])} predictions and {tuple(gt_labels[i].shape)} for {len(gt_boxes[i])} boxes")
    classes = sorted(set(torch.cat([g.long() for g in gt_labels]).tolist())) if n else []
    if not classes:
        raise ValueError("mean average precision is undefined without ground-truth boxes")
    ap = {}
    for c in classes:
        ap[c] = average_precision([b[l == c] for b, l in zip(pred_boxes, pred_labels)],
                                  [s[l == c] for s, l in zip(pred_scores, pred_labels)],
                                  [b[l == c] for b, l in zip(gt_boxes, gt_labels)], iou_threshold=iou_threshold)
    return sum(ap.values()) / len(ap), ap
