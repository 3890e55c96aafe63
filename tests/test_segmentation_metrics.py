"""Dataset-level PQ side by side with torchmetrics' PanopticQuality (the panopticapi definition) on random and
adversarial instance masks, void pixels included: our class-agnostic instance PQ is its PQ of the one `thing`
category, with our background as a `stuff` category and our void id as an unknown (void) category.

One convention differs on purpose: where a quantity is undefined (SQ without a true positive; PQ and RQ of a
split with no instance at all) we report NaN, panopticapi and torchmetrics 0. Those cases are checked to be
exactly the undefined ones."""
import numpy as np
import pytest

from rpx_benchmark.metrics.segmentation import instance_segmentation_metrics, pq_from_counts

torch = pytest.importorskip('torch')
tm = pytest.importorskip('torchmetrics.detection')
THING, STUFF, UNKNOWN, VOID = 1, 0, 7, 99

def panoptic(ids, void_id=None):
    "H x W instance ids as torchmetrics' (H, W, 2) (category, instance): 0 is background stuff, `void_id` unknown."
    cat = np.where(ids == 0, STUFF, THING)
    if void_id is not None: cat = np.where(ids == void_id, UNKNOWN, cat)
    inst = np.where(cat == THING, ids, 0)
    return torch.from_numpy(np.stack([cat, inst], -1).astype(np.int64))

def reference(preds, gts, void_id=None):
    "torchmetrics' PQ, SQ, RQ of the thing category over all images."
    m = tm.PanopticQuality(things={THING}, stuffs={STUFF}, return_sq_and_rq=True, return_per_class=True)
    for p, g in zip(preds, gts): m.update(panoptic(p)[None], panoptic(g, void_id)[None])
    pq, sq, rq = (float(v) for v in m.compute()[0])   # row of category 1 (things come first)
    return pq, sq, rq

def ours(preds, gts, void_id=None):
    "Our PQ, SQ, RQ over all images, and the summed (tp, fp, fn)."
    ms = [instance_segmentation_metrics(p, g, void_id=void_id) for p, g in zip(preds, gts)]
    counts = [sum(m[k] for m in ms) for k in ('tp', 'fp', 'fn', 'iou_sum')]
    r = pq_from_counts(*counts)
    return (float(r['pq']), float(r['sq']), float(r['rq'])), counts[:3]

def boxes(rng, h, w, n, first=1):
    "A mask of up to `n` overlapping random rectangles (later ones on top), ids from `first`."
    m = np.zeros((h, w), np.int64)
    for k in range(n):
        y, x = rng.integers(0, h - 2), rng.integers(0, w - 2)
        m[y:y + rng.integers(2, h // 2), x:x + rng.integers(2, w // 2)] = first + k
    return m

def perturb(rng, gt):
    "A prediction: the truth shifted, some instances dropped or merged, some invented, ids shuffled."
    p = np.roll(gt, (rng.integers(-2, 3), rng.integers(-2, 3)), (0, 1))
    ids = [i for i in np.unique(p) if i]
    for i in ids:
        if rng.random() < 0.2: p[p == i] = 0
        elif rng.random() < 0.1 and ids: p[p == i] = ids[0]
    extra = boxes(rng, *gt.shape, rng.integers(0, 3), first=50)
    p = np.where(extra > 0, extra, p)
    perm = rng.permutation(200) + 1
    return np.where(p > 0, perm[p % 200], 0)

def same(preds, gts, void_id=None):
    "Ours equals the reference to 1e-6 wherever it is defined, and is NaN exactly where it is not (the reference says 0)."
    (pq, sq, rq), (tp, fp, fn) = ours(preds, gts, void_id)
    ref = reference(preds, gts, void_id)
    defined = (tp + fp + fn > 0, tp > 0, tp + fp + fn > 0)
    return all((abs(x - y) <= 1e-6) if d else (np.isnan(x) and y == 0) for x, y, d in zip((pq, sq, rq), ref, defined)), ((pq, sq, rq), ref)

@pytest.mark.parametrize('seed', range(200))
def test_random_splits_equal_torchmetrics(seed):
    rng = np.random.default_rng(seed)
    h, w = 24, 32
    gts = [boxes(rng, h, w, rng.integers(0, 6)) for _ in range(rng.integers(1, 4))]
    void_id = None
    if seed % 3 == 0:   # unannotated pixels in the truth
        void_id = VOID
        for g in gts: g[rng.random((h, w)) < 0.15] = VOID
    preds = [perturb(rng, np.where(g == VOID, 0, g)) for g in gts]
    ok, got = same(preds, gts, void_id)
    assert ok, got

def touching(shift):
    "Two touching objects whose predicted boundary is misplaced by `shift` columns."
    g = np.zeros((10, 20), np.int64); g[:, :10], g[:, 10:] = 1, 2
    p = np.zeros_like(g); p[:, :10 + shift], p[:, 10 + shift:] = 5, 6
    return p, g

ADVERSARIAL = {
    'both empty': ([np.zeros((8, 8), np.int64)], [np.zeros((8, 8), np.int64)]),
    'no prediction': ([np.zeros((8, 8), np.int64)], [np.pad(np.ones((4, 4), np.int64), 2)]),
    'nothing to find': ([np.pad(np.ones((4, 4), np.int64), 2)], [np.zeros((8, 8), np.int64)]),
    'one segment over everything': ([np.ones((8, 8), np.int64)], [np.kron(np.arange(4).reshape(2, 2), np.ones((4, 4), np.int64))]),
    'touching, boundary off by 2': tuple([x] for x in touching(2)),
    'touching, boundary off by 4': tuple([x] for x in touching(4)),
    'perfect': ([np.kron(np.arange(4).reshape(2, 2), np.ones((4, 4), np.int64)) * 7], [np.kron(np.arange(4).reshape(2, 2), np.ones((4, 4), np.int64))]),
}

@pytest.mark.parametrize('case', ADVERSARIAL)
def test_adversarial_cases_equal_torchmetrics(case):
    preds, gts = ADVERSARIAL[case]
    ok, got = same(preds, gts)
    assert ok, (case, got)

def test_a_prediction_mostly_on_void_is_not_a_false_positive():
    g = np.zeros((10, 10), np.int64); g[:, :5] = VOID; g[2:6, 6:9] = 1
    p = np.zeros_like(g); p[:, :4] = 3; p[2:6, 6:9] = 4       # the first segment lies on unannotated pixels
    ok, got = same([p], [g], VOID)
    assert ok and got[0][0] == 1.0, got
