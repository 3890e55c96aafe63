"""Tracking metrics side by side with TrackEval (HOTA, DetA, AssA) and py-motmetrics 1.4 (MOTA, IDF1, ID
switches, fragmentations): random and adversarial sequences, and weighted reductions equal to the
references on replicated sequences."""
import contextlib, io, math
import numpy as np
import pytest

pytest.importorskip('motmetrics'); pytest.importorskip('trackeval')
if not hasattr(np, 'asfarray'): np.asfarray = lambda a, dtype=float: np.asarray(a, dtype=dtype)   # py-motmetrics 1.4 calls it (gone in numpy 2)
import motmetrics as mm
import trackeval
from trackeval.datasets._base_dataset import _BaseDataset

from rpx_benchmark.errors import MetricError
from rpx_benchmark.metrics.tracking import TrackingSuite, evaluate_tracking, frame_evidence

N_RANDOM = 220

def trackeval_hota(seqs):
    "TrackEval's HOTA metric on each sequence (ids relabelled as its datasets do), combined over sequences."
    res = {}
    for n, (g, p) in seqs.items():
        gids = np.unique(np.concatenate([f['ids'] for f in g] + [[]])).astype(int)
        tids = np.unique(np.concatenate([f['ids'] for f in p] + [[]])).astype(int)
        box = lambda f: np.asarray(f['boxes'], float).reshape(-1, 4)
        data = dict(num_gt_ids=len(gids), num_tracker_ids=len(tids), num_timesteps=len(g),
                    num_gt_dets=sum(len(f['ids']) for f in g), num_tracker_dets=sum(len(f['ids']) for f in p),
                    gt_ids=[np.searchsorted(gids, np.asarray(f['ids'], int)).astype(int) for f in g],
                    tracker_ids=[np.searchsorted(tids, np.asarray(f['ids'], int)).astype(int) for f in p],
                    similarity_scores=[_BaseDataset._calculate_box_ious(box(a), box(b), box_format='x0y0x1y1') for a, b in zip(g, p)])
        with contextlib.redirect_stdout(io.StringIO()): res[n] = trackeval.metrics.HOTA().eval_sequence(data)
    comb = trackeval.metrics.HOTA().combine_sequences(res)
    return {k: float(np.mean(comb[k])) for k in ('HOTA', 'DetA', 'AssA')}, {n: float(np.mean(r['HOTA'])) for n, r in res.items()}

def motmetrics_summary(seqs):
    accs = []
    for g, p in seqs.values():
        acc = mm.MOTAccumulator(auto_id=True)
        for a, b in zip(g, p):
            ga, pa = np.asarray(a['boxes'], float).reshape(-1, 4), np.asarray(b['boxes'], float).reshape(-1, 4)
            d = mm.distances.iou_matrix(np.c_[ga[:, :2], ga[:, 2:] - ga[:, :2]], np.c_[pa[:, :2], pa[:, 2:] - pa[:, :2]], max_iou=0.5)
            acc.update(list(np.asarray(a['ids'], int)), list(np.asarray(b['ids'], int)), d)
        accs.append(acc)
    return mm.metrics.create().compute_many(accs, metrics=['mota', 'idf1', 'num_switches', 'num_fragmentations'],
                                             names=list(seqs), generate_overall=True)

def same(a, b, tol=1e-9): return (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) < tol

def check(seqs):
    ours = evaluate_tracking({n: g for n, (g, _) in seqs.items()}, {n: p for n, (_, p) in seqs.items()})
    h, hseq = trackeval_hota(seqs)
    mot = motmetrics_summary(seqs)
    pairs = [('hota', h['HOTA']), ('deta', h['DetA']), ('assa', h['AssA']), ('mota', mot.loc['OVERALL', 'mota']),
             ('idf1', mot.loc['OVERALL', 'idf1']), ('idsw', mot.loc['OVERALL', 'num_switches']), ('frag', mot.loc['OVERALL', 'num_fragmentations'])]
    bad = {k: (ours[k], float(v)) for k, v in pairs if not same(ours[k], float(v))}
    for n in seqs:
        for k, v in (('hota', hseq[n]), ('mota', mot.loc[n, 'mota']), ('idf1', mot.loc[n, 'idf1']), ('idsw', mot.loc[n, 'num_switches'])):
            if not same(ours['per_sequence'][n][k], float(v)): bad[f'{n}/{k}'] = (ours['per_sequence'][n][k], float(v))
    assert not bad, bad

def random_sequence(rng):
    F, n = int(rng.integers(1, 10)), int(rng.integers(0, 6))
    start, size, vel = rng.uniform(0, 80, (n, 2)), rng.uniform(4, 30, (n, 2)), rng.normal(0, 4, (n, 2))
    ids = rng.permutation(40)[:n] + 1
    g, p = [], []
    for t in range(F):
        vis = rng.random(n) < 0.8
        gb = np.c_[start + vel * t, start + vel * t + size][vis]; gi = ids[vis]
        pb, pi = [], []
        for k in range(len(gi)):
            if rng.random() < 0.85:
                pb.append(gb[k] + rng.normal(0, rng.choice([0.3, 2, 6]), 4))
                pi.append(int(gi[k]) + 100 * int(rng.random() < 0.2 * t / F) + 7 * int(rng.random() < 0.05))   # switches, id reuse
        for _ in range(int(rng.integers(0, 3))):
            x, y = rng.uniform(0, 80, 2); pb.append([x, y, x + rng.uniform(4, 25), y + rng.uniform(4, 25)]); pi.append(int(rng.integers(300, 304)))
        pb = np.array(pb).reshape(-1, 4); pb[:, 2:] = np.maximum(pb[:, 2:], pb[:, :2])
        if rng.random() < 0.3: pb, gb = np.round(pb), np.round(gb)
        _, first = np.unique(np.array(pi, int), return_index=True); keep = np.sort(first)
        g.append(dict(ids=gi, boxes=gb)); p.append(dict(ids=np.array(pi, int)[keep], boxes=pb[keep]))
    return g, p

def test_random_sequences_equal_trackeval_and_motmetrics():
    rng = np.random.default_rng(3)
    for _ in range(N_RANDOM): check({f's{i}': random_sequence(rng) for i in range(int(rng.integers(1, 4)))})

def F(ids=(), boxes=()): return dict(ids=np.array(ids, int), boxes=np.array(boxes, float).reshape(-1, 4))
B = lambda x, y=0, w=10: [x, y, x + w, y + 10]

ADVERSARIAL = {
    'no predictions': [([F([1], [B(0)]), F([1, 2], [B(0), B(30)])], [F(), F()])],
    'no ground truth': [([F(), F()], [F([1], [B(0)]), F([1], [B(2)])])],
    'empty sequence': [([F(), F()], [F(), F()])],
    'an empty frame in the middle': [([F([1], [B(0)]), F(), F([1], [B(4)])], [F([5], [B(0)]), F(), F([6], [B(4)])])],
    'object leaves and comes back': [([F([1], [B(0)]), F(), F(), F([1], [B(0)])], [F([3], [B(0)]), F(), F(), F([3], [B(0)])])],
    'lost then found (fragmentation)': [([F([1], [B(0)])] * 4, [F([3], [B(0)]), F(), F([3], [B(0)]), F([4], [B(0)])])],
    'one track covers two objects in turn': [([F([1, 2], [B(0), B(40)])] * 3, [F([9], [B(0)]), F([9], [B(40)]), F([9], [B(0)])])],
    'IoU exactly 0.5': [([F([1], [B(0, w=10)])] * 2, [F([2], [B(0, w=20)]), F([2], [B(0, w=5)])])],
    'identical boxes of two objects': [([F([1, 2], [B(0), B(0)])] * 3, [F([5, 6], [B(0), B(0)]), F([6, 5], [B(0), B(0)]), F([5], [B(0)])])],
    'every box predicted twice': [([F([1, 2], [B(0), B(30)])] * 2, [F([1, 2, 3, 4], [B(0), B(30), B(0), B(30)])] * 2)],
    'several sequences, one empty': [([F([1], [B(0)])], [F([1], [B(0)])]), ([F()], [F()]), ([F([2], [B(5)])], [F()])],
}

@pytest.mark.parametrize('name', list(ADVERSARIAL))
def test_adversarial_sequences_equal_the_references(name):
    check({f's{i}': s for i, s in enumerate(ADVERSARIAL[name])})

def test_weights_equal_the_references_on_replicated_sequences():
    from types import SimpleNamespace as NS
    from rpx_benchmark.api import Phase
    rng = np.random.default_rng(8)
    for _ in range(25):
        seqs = {f's{i}': random_sequence(rng) for i in range(3)}
        suite = TrackingSuite()
        ev, col = [], []
        for k, (n, (g, p)) in enumerate(seqs.items()):
            for t, (a, b) in enumerate(zip(g, p)):
                ev.append(frame_evidence(a['ids'], a['boxes'], b['ids'], b['boxes'], n, t, 'clutter')); col.append(k)
        W = rng.integers(0, 4, (4, 3)).astype(float); W[0] = 1
        red = suite.reduce(ev, W[:, col])
        for r, w in enumerate(W):
            if w.sum() == 0: continue
            rep = {f'{n}#{c}': seqs[n] for k, n in enumerate(seqs) for c in range(int(w[k]))}
            h, _ = trackeval_hota(rep); mot = motmetrics_summary(rep)
            for key, v in (('hota', h['HOTA']), ('assa', h['AssA']), ('mota', mot.loc['OVERALL', 'mota']), ('idf1', mot.loc['OVERALL', 'idf1']),
                           ('idsw', mot.loc['OVERALL', 'num_switches'])):
                assert same(float(red[key][r]), float(v)), (key, w, red[key][r], v)

def test_bad_inputs_are_refused():
    with pytest.raises(MetricError, match='an id appears twice'): evaluate_tracking([F([1, 1], [B(0), B(5)])], [F()])
    with pytest.raises(MetricError, match='x2 < x1'): evaluate_tracking([F([1], [B(0)])], [F([1], [[5, 0, 1, 10]])])
    with pytest.raises(MetricError, match='different sequences'): evaluate_tracking({'a': [F()]}, {'b': [F()]})
