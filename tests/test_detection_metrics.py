"""COCO detection metrics side by side with pycocotools' COCOeval: random and adversarial cases, weighted
reductions equal to COCOeval on replicated or selected images, and the open-vocabulary base/novel split."""
import contextlib, io, math
import numpy as np
import pytest

pytest.importorskip('pycocotools')
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from rpx_benchmark.errors import MetricError
from rpx_benchmark.metrics.detection import (OpenVocabDetectionSuite, accumulate, evaluate_detections, image_evidence, summarize)

N_RANDOM = 240

def cocoeval(gts, preds, cat_ids=None):
    "pycocotools on the same lists (boxes x1 y1 x2 y2 converted to x y w h): the summary stats and per-class AP."
    images = [dict(id=i + 1, width=640, height=480) for i in range(len(gts))]
    cats = sorted({int(l) for d in gts + preds for l in d['labels']})
    anns = []
    for i, g in enumerate(gts):
        for b, l in zip(np.asarray(g['boxes'], float).reshape(-1, 4), g['labels']):
            w, h = b[2] - b[0], b[3] - b[1]
            anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=int(l), bbox=[b[0], b[1], w, h], area=w * h, iscrowd=0))
    res = [dict(image_id=i + 1, category_id=int(l), bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]], score=float(s))
           for i, p in enumerate(preds) for b, l, s in zip(np.asarray(p['boxes'], float).reshape(-1, 4), p['labels'], p['scores'])]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(); gt.dataset = dict(images=images, annotations=anns, categories=[dict(id=c) for c in cats]); gt.createIndex()
        if res: dt = gt.loadRes(res)
        else: dt = COCO(); dt.dataset = dict(images=images, annotations=[], categories=gt.dataset['categories']); dt.createIndex()
        E = COCOeval(gt, dt, 'bbox')
        if cat_ids is not None: E.params.catIds = list(cat_ids)
        E.evaluate(); E.accumulate(); E.summarize()
    per = {}
    for k, c in enumerate(E.params.catIds):
        p = E.eval['precision'][:, :, k, 0, -1]
        per[c] = float(p.mean()) if (p > -1).any() else None
    return dict(map=E.stats[0], map50=E.stats[1], map75=E.stats[2], mar100=E.stats[8]), per

def same(ours, ref):
    "Equal to 1e-9, with COCO's -1 (nothing to score) as our NaN."
    return math.isnan(ours) if ref == -1 else abs(ours - ref) < 1e-9

def random_case(rng, n_img=None, n_cls=None):
    n_img = n_img or int(rng.integers(1, 7)); K = n_cls or int(rng.integers(1, 5))
    gts, preds = [], []
    for _ in range(n_img):
        ng = int(rng.integers(0, 7)); xy = rng.uniform(0, 200, (ng, 2))
        gb = np.c_[xy, xy + rng.uniform(1, 60, (ng, 2))]; gl = rng.integers(0, K, ng)
        if rng.random() < 0.3: gb = np.round(gb)
        boxes, labels = [], []
        for _ in range(int(rng.integers(0, 10))):
            if ng and rng.random() < 0.7:
                j = int(rng.integers(ng)); boxes.append(gb[j] + rng.normal(0, rng.choice([0.3, 2, 6, 15]), 4))
                labels.append(gl[j] if rng.random() < 0.85 else int(rng.integers(K)))
            else:
                x, y = rng.uniform(0, 200, 2); boxes.append([x, y, x + rng.uniform(1, 60), y + rng.uniform(1, 60)]); labels.append(int(rng.integers(K)))
        pb = np.array(boxes).reshape(-1, 4); pb[:, 2:] = np.maximum(pb[:, 2:], pb[:, :2] + 0.25)
        if rng.random() < 0.3: pb = np.round(pb); pb[:, 2:] = np.maximum(pb[:, 2:], pb[:, :2] + 1)
        sc = rng.random(len(pb))
        if rng.random() < 0.35: sc = np.round(sc, 1)   # ties, within and across images
        gts.append(dict(boxes=gb, labels=gl)); preds.append(dict(boxes=pb, labels=np.array(labels, int), scores=sc))
    return gts, preds

def check(gts, preds):
    ours = evaluate_detections(gts, preds)
    ref, per = cocoeval(gts, preds)
    bad = {k: (ours[k], ref[k]) for k in ref if not same(ours[k], ref[k])}
    for c, v in per.items():
        o = ours['per_class'].get(c, {}).get('ap', float('nan'))
        if (v is None) != math.isnan(o) or (v is not None and abs(o - v) > 1e-9): bad[f'class {c}'] = (o, v)
    assert not bad, bad

def test_random_cases_equal_cocoeval():
    rng = np.random.default_rng(12)
    for _ in range(N_RANDOM): check(*random_case(rng))

def E(boxes=(), labels=(), scores=None):
    d = dict(boxes=np.array(boxes, float).reshape(-1, 4), labels=np.array(labels, int))
    if scores is not None: d['scores'] = np.array(scores, float)
    return d

ADVERSARIAL = {
    'empty images': ([E(), E([[0, 0, 5, 5]], [0])], [E(scores=[]), E([[0, 0, 5, 5]], [0], [0.5])]),
    'no predictions': ([E([[0, 0, 5, 5], [9, 9, 20, 20]], [0, 1])], [E(scores=[])]),
    'no ground truth at all': ([E()], [E([[0, 0, 5, 5]], [0], [0.5])]),
    'predictions of a class without ground truth': ([E([[0, 0, 5, 5]], [0])], [E([[0, 0, 5, 5], [0, 0, 5, 5]], [0, 1], [0.2, 0.9])]),
    'duplicate detections': ([E([[0, 0, 10, 10]], [0])], [E([[0, 0, 10, 10]] * 4, [0] * 4, [0.9, 0.9, 0.8, 0.9])]),
    'duplicate ground truth': ([E([[0, 0, 10, 10]] * 3, [0] * 3)], [E([[0, 0, 10, 10], [0, 0, 10, 11]], [0, 0], [0.5, 0.7])]),
    'IoU exactly on a threshold': ([E([[0, 0, 10, 10], [0, 0, 20, 10]], [0, 0])], [E([[0, 0, 20, 10], [0, 0, 10, 20]], [0, 0], [0.6, 0.6])]),
    'all scores tie': ([E([[0, 0, 10, 10], [30, 0, 40, 10]], [0, 0]), E([[5, 5, 9, 9]], [0])],
                       [E([[0, 0, 10, 10], [50, 50, 60, 60], [30, 0, 40, 12]], [0, 0, 0], [1, 1, 1]), E([[5, 5, 9, 9], [0, 0, 1, 1]], [0, 0], [1, 1])]),
    'zero-area boxes': ([E([[3, 3, 3, 9], [0, 0, 4, 4]], [0, 0])], [E([[3, 3, 3, 9], [0, 0, 4, 4]], [0, 0], [0.9, 0.8])]),
    'boxes outside the image': ([E([[-20, -5, 10, 10], [630, 470, 700, 520]], [0, 1])], [E([[-20, -5, 10, 10], [630, 470, 700, 520]], [0, 1], [0.3, 0.4])]),
    'more than 100 detections per class': ([E([[i, i, i + 5, i + 5] for i in range(0, 150, 3)], [0] * 50)],
                                           [E([[i, i, i + 5, i + 5] for i in range(0, 450, 3)][::-1], [0] * 150, np.linspace(0, 1, 150))]),
}

@pytest.mark.parametrize('name', list(ADVERSARIAL))
def test_adversarial_cases_equal_cocoeval(name):
    check(*ADVERSARIAL[name])

def test_weights_equal_cocoeval_on_replicated_and_selected_images():
    "reduce on a weight row = COCOeval on the image list with each image repeated (side by side) by its weight."
    rng = np.random.default_rng(5)
    for _ in range(40):
        gts, preds = random_case(rng, n_img=int(rng.integers(2, 6)))
        ev = [image_evidence(g['boxes'], g['labels'], p['boxes'], p['labels'], p['scores']) for g, p in zip(gts, preds)]
        W = rng.integers(0, 4, (5, len(gts))).astype(float); W[0] = 1; W[1] = rng.integers(0, 2, len(gts))
        got = summarize(accumulate(ev, W))
        for r, w in enumerate(W):
            if w.sum() == 0: assert math.isnan(got['map'][r]); continue
            idx = [i for i in range(len(gts)) for _ in range(int(w[i]))]
            ref, _ = cocoeval([gts[i] for i in idx], [preds[i] for i in idx])
            assert all(same(got[k][r], ref[k]) for k in ref), (r, w, {k: (got[k][r], ref[k]) for k in ref})

def test_open_vocab_base_and_novel_equal_cocoeval_on_those_classes():
    from types import SimpleNamespace as NS
    rng = np.random.default_rng(9)
    suite = OpenVocabDetectionSuite()
    for _ in range(30):
        gts, preds = random_case(rng, n_cls=4)
        novel = sorted(set(rng.choice(4, int(rng.integers(1, 5)), replace=False).tolist()))   # sometimes all novel
        ev = [suite.evidence(NS(boxes=p['boxes'], labels=p['labels'], scores=p['scores']), NS(ground_truth=NS(boxes=g['boxes'], labels=g['labels'], novel=novel)))
              for g, p in zip(gts, preds)]
        got = {k: float(v[0]) for k, v in suite.reduce(ev, np.ones((1, len(ev)))).items()}
        present = sorted({int(l) for d in gts + preds for l in d['labels']})
        for key, cats in (('map_novel', [c for c in present if c in novel]), ('map_base', [c for c in present if c not in novel])):
            ref = cocoeval(gts, preds, cats)[0]['map'] if cats else -1
            assert same(got[key], ref), (key, got[key], ref)

def test_bad_inputs_are_refused():
    g = [E([[0, 0, 5, 5]], [0])]
    with pytest.raises(MetricError, match='x2 < x1'): evaluate_detections(g, [E([[5, 0, 1, 5]], [0], [1])])
    with pytest.raises(MetricError, match='not finite'): evaluate_detections(g, [E([[0, 0, 5, 5]], [0], [np.nan])])
    with pytest.raises(MetricError, match='1 boxes, 2 labels'): evaluate_detections(g, [dict(boxes=[[0, 0, 5, 5]], labels=[0, 1], scores=[1, 1])])
    with pytest.raises(MetricError, match='ground-truth images'): evaluate_detections(g, [])

def test_reduce_is_fast_enough_for_the_report():
    "A sample-sized run (576 images, 28 classes) reduced for 2000 bootstrap replicates in a few seconds."
    import time
    from rpx_benchmark.deployment import scene_weights
    rng = np.random.default_rng(1)
    ev = []
    for _ in range(576):
        xy = rng.uniform(0, 300, (8, 2)); gb = np.c_[xy, xy + rng.uniform(5, 30, (8, 2))]; gl = rng.integers(0, 28, 8)
        ev.append(image_evidence(gb, gl, np.r_[gb + rng.normal(0, 2, gb.shape), gb + rng.normal(0, 6, gb.shape)],
                                 np.r_[gl, rng.integers(0, 28, 8)], rng.random(16)))
    W = scene_weights(24, 2000, 0)[:, np.repeat(np.arange(24), 24)]
    t = time.perf_counter(); summarize(accumulate(ev, W)); dt = time.perf_counter() - t
    assert dt < 30, dt
