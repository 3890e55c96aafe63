"""Relative camera pose and keypoint matching: side by side with the reference formulas, exact geometry on noise-free
renderings, degenerate inputs, the pair manifests, transformers matchers, and the default runs."""
import json, os, subprocess, sys, time
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from rpx_benchmark.errors import AdapterError, MetricError
from rpx_benchmark.metrics.pose import (RelativePoseSuite, estimate_relative_pose, pose_auc, relative_pose, relative_pose_error,
                                        weighted_median, weighted_pose_auc)

# ---------- the reference formulas

trapezoid = getattr(np, 'trapezoid', None) or np.trapz   # numpy 2 renamed it

def error_auc(errors, thresholds):
    """LoFTR's `error_auc` (src/utils/metrics.py, Apache-2.0), the same computation as SuperGlue's `pose_auc`: the recall
    curve through (0, 0) and (e_k, k/N), integrated with the trapezoid rule up to each threshold."""
    errors = [0] + sorted(list(errors))
    recall = list(np.linspace(0, 1, len(errors)))
    aucs = []
    for thr in thresholds:
        last_index = np.searchsorted(errors, thr)
        y = recall[:last_index] + [recall[last_index - 1]]
        x = errors[:last_index] + [thr]
        aucs.append(trapezoid(y, x) / thr)
    return aucs

def angle_error_mat(R1, R2):
    "SuperGlue / LoFTR rotation error: arccos of (trace(R1^T R2) - 1) / 2, in degrees."
    cos = np.clip((np.trace(np.dot(R1.T, R2)) - 1) / 2, -1., 1.)
    return np.rad2deg(np.abs(np.arccos(cos)))

def angle_error_vec(v1, v2):
    n = np.linalg.norm(v1) * np.linalg.norm(v2)
    return np.rad2deg(np.arccos(np.clip(np.dot(v1, v2) / n, -1.0, 1.0)))

def random_errors(rng):
    n = int(rng.integers(1, 80))
    e = rng.exponential(rng.uniform(0.5, 30), n)
    e[rng.random(n) < 0.15] = np.inf                       # failed estimates
    if rng.random() < 0.3: e = np.round(e)                 # ties, and errors exactly at a threshold
    if rng.random() < 0.2: e[: n // 3] = 0.0               # exact estimates
    return e

def test_pose_auc_equals_the_superglue_formula():
    rng = np.random.default_rng(0)
    for _ in range(400):
        e = random_errors(rng)
        th = [5, 10, 20, float(rng.uniform(0.5, 40))]
        np.testing.assert_allclose(pose_auc(e, th), error_auc(e, th), rtol=0, atol=1e-12)
    assert pose_auc([2.0, 7.0, 15.0, np.inf], [5]) == pytest.approx([0.2], abs=1e-15)

def test_weighted_auc_equals_the_replicated_error_list():
    "Weights act as multiplicities: a bootstrap row reduces to pose_auc (and np.median) of the list with each pair repeated."
    rng = np.random.default_rng(1)
    for _ in range(150):
        e = random_errors(rng)
        W = rng.integers(0, 4, (6, len(e))).astype(float)
        got, med = weighted_pose_auc(e, W, [5, 10, 20]), weighted_median(e, W)
        for r in range(len(W)):
            rep = np.repeat(e, W[r].astype(int))
            if not len(rep): assert np.isnan(got[r]).all() and np.isnan(med[r]); continue
            np.testing.assert_allclose(got[r], error_auc(rep, [5, 10, 20]), rtol=0, atol=1e-12)
            assert med[r] == np.median(rep) or abs(med[r] - np.median(rep)) < 1e-12

def test_suite_reduce_is_the_auc_of_replicated_evidence():
    "The pose suite's reduce on journalled evidence (None = failure) under integer weights, in percent."
    rng = np.random.default_rng(2)
    e = random_errors(rng); e = np.r_[e, rng.uniform(0, 30, 5)]
    ev = [[None if not np.isfinite(v) else float(v)] for v in e]
    W = rng.integers(0, 3, (20, len(e))).astype(float); W[0] = 1
    red = RelativePoseSuite().reduce(ev, W)
    for r in range(len(W)):
        ref = error_auc(np.repeat(e, W[r].astype(int)), [5, 10, 20])
        np.testing.assert_allclose([red[f'pose_auc_{t}'][r] for t in (5, 10, 20)], 100 * np.array(ref), rtol=0, atol=1e-10)

def test_corpus_phase_scores_resample_scenes():
    "Phase scores and CIs of pose AUC are reductions of the resampled evidence (brute force: rebuild each replicate's list)."
    from rpx_benchmark.api import ESD_WEIGHTS, Difficulty
    from rpx_benchmark.deployment import build_report, scene_weights
    rng = np.random.default_rng(3)
    scenes = [f's{i}' for i in range(6)]; tiers = dict(zip(scenes, ['easy', 'medium', 'hard', 'easy', 'hard', 'medium']))
    rows = [dict(scene=s, phase=p, difficulty=tiers[s], frame=f, evidence=[None if rng.random() < 0.1 else float(rng.exponential(8))])
            for s in scenes for p in ('clutter', 'interaction', 'clean') for f in range(4)]
    suite = RelativePoseSuite()
    rep = build_report(rows, 'relative_camera_pose', 'pose_auc_10', True, list(suite.metrics), n_boot=40, seed=5, suite=suite)
    def S(mult, phase):
        M = {}
        for d in ('easy', 'medium', 'hard'):
            errs = [np.inf if r['evidence'][0] is None else r['evidence'][0] for r in rows if r['phase'] == phase and r['difficulty'] == d
                    for _ in range(int(mult[r['scene']]))]
            if errs: M[d] = 100 * error_auc(errs, [10])[0]
        return sum(ESD_WEIGHTS[Difficulty(d)] * m for d, m in M.items()) / sum(ESD_WEIGHTS[Difficulty(d)] for d in M)
    assert rep.phase_scores['clutter']['value'] == pytest.approx(S(dict.fromkeys(scenes, 1), 'clutter'), abs=1e-10)
    boot = [S(dict(zip(scenes, w)), 'clean') for w in scene_weights(len(scenes), 40, 5)]
    np.testing.assert_allclose(rep.phase_scores['clean']['ci95'], np.quantile(boot, [0.025, 0.975]), rtol=0, atol=1e-10)

# ---------- pose errors

def random_pose(rng, deg=30):
    T = np.eye(4); T[:3, :3] = Rotation.from_rotvec(rng.normal(size=3) * np.deg2rad(deg) / 2).as_matrix(); T[:3, 3] = rng.normal(size=3)
    return T

def test_relative_pose_error_equals_the_reference_and_the_truth_scores_zero():
    rng = np.random.default_rng(4)
    for _ in range(300):
        Ta, Tb = random_pose(rng, 180), random_pose(rng, 180)
        T_gt = relative_pose(Ta, Tb)
        assert relative_pose_error(T_gt, T_gt) == (0.0, 0.0)                      # exactly, not 1e-6
        T_pred = random_pose(rng, 40) @ T_gt
        rot, tr = relative_pose_error(T_pred, T_gt)
        ref_t = angle_error_vec(T_pred[:3, 3], T_gt[:3, 3])
        assert abs(rot - angle_error_mat(T_pred[:3, :3], T_gt[:3, :3])) < 1e-6 and abs(tr - min(ref_t, 180 - ref_t)) < 1e-6
        assert np.allclose(np.linalg.inv(Tb) @ Ta, T_gt)                           # camera a -> camera b

def test_protocol_estimator_recovers_exact_geometry():
    rng = np.random.default_rng(5)
    K = np.array([[300., 0, 160], [0, 300, 120], [0, 0, 1]])
    X = rng.uniform([-1, -0.8, 2], [1, 0.8, 5], (300, 3))
    for _ in range(10):
        T = random_pose(rng, 15); T[:3, 3] = rng.normal(size=3) * 0.2
        Y = X @ T[:3, :3].T + T[:3, 3]
        if (Y[:, 2] <= 0.5).any(): continue
        # (at the protocol's 1 px a wrong essential matrix can fit all these points: RANSAC keeps the first full-support model)
        est, inl = estimate_relative_pose(X[:, :2] / X[:, 2:] * 300 + [160, 120], Y[:, :2] / Y[:, 2:] * 300 + [160, 120], K, threshold=0.05)
        assert max(relative_pose_error(est, T)) < 1e-3 and inl.mean() > 0.95

def test_pose_error_refuses_what_is_not_a_pose():
    T = np.eye(4); T[0, 1] = 0.3
    with pytest.raises(MetricError, match='not orthonormal'): relative_pose_error(T, np.eye(4))
    with pytest.raises(MetricError, match='reflection'): relative_pose_error(np.diag([1., 1, -1, 1]), np.eye(4))
    with pytest.raises(MetricError, match='non-finite'): relative_pose_error(np.full((4, 4), np.nan), np.eye(4))

# ---------- correspondences from depth and poses, against the ray caster

@pytest.fixture(scope='module')
def rendered_pair():
    "Two noise-free renderings of one synthetic clutter scene, 7 frames apart on the camera arc."
    from rpx_benchmark.synthetic.layout import camera_path, intrinsics_for, make_objects, scatter
    from rpx_benchmark.synthetic.sensor import render
    rng = np.random.default_rng(11)
    objs = make_objects(rng, 8); pl = scatter(rng, objs)
    Kd = intrinsics_for(120, 160); poses = camera_path(rng, 8)
    views = [render(objs, pl, poses[i], Kd, np.random.default_rng(i)) for i in (0, 7)]
    return objs, pl, Kd, poses[0], poses[7], views

def cycle_error(objs, pl, Kd, Ta, Tb, pa, pb):
    "Cast the ray through each point of b (sub-pixel), and project what it hits into a: distance to the point of a, px."
    from rpx_benchmark.synthetic.raycast import cast_scene
    K = np.array([[Kd['fx'], 0, Kd['cx']], [0, Kd['fy'], Kd['cy']], [0, 0, 1]])
    out = []
    for (xa, ya), (x, y) in zip(pa, pb):
        h = cast_scene(objs, pl, Tb, dict(fx=Kd['fx'], fy=Kd['fy'], cx=Kd['cx'] - x, cy=Kd['cy'] - y, width=1, height=1))
        X = np.linalg.inv(Ta) @ np.r_[h.o + h.d[0] * h.t[0], 1]
        out.append(np.hypot(X[0] / X[2] * K[0, 0] + K[0, 2] - xa, X[1] / X[2] * K[1, 1] + K[1, 2] - ya))
    return np.array(out)

def test_correspondences_land_within_half_a_pixel(rendered_pair):
    from rpx_benchmark.metrics.matching import correspondences
    objs, pl, Kd, Ta, Tb, ((_, _, ma, za), (_, _, mb, zb)) = rendered_pair
    K = np.array([[Kd['fx'], 0, Kd['cx']], [0, Kd['fy'], Kd['cy']], [0, 0, 1]])
    T = relative_pose(Ta, Tb)
    rng = np.random.default_rng(0)
    for depth_a, depth_b, bound in ((za, zb, 1e-6), (np.round(za * 1000) / 1000, np.round(zb * 1000) / 1000, 0.5)):  # true; 16-bit mm
        pa, pb = correspondences(depth_a, T, K, depth_b, ma.astype(int), mb.astype(int))
        assert len(pa) > 0.3 * za.size
        k = rng.choice(len(pa), 250, replace=False)
        err = cycle_error(objs, pl, Kd, Ta, Tb, pa[k], pb[k])
        assert err.max() < bound, err.max()
    # the occlusion check matters: among the points it rejects, some are hidden in b (the ray through them hits something else)
    from rpx_benchmark.metrics.matching import project_points
    pa, pb = correspondences(za, T, K)
    hidden = ~project_points(pa, za, T, K, zb)[1]
    assert hidden.any() and cycle_error(objs, pl, Kd, Ta, Tb, pa[hidden][::7][:80], pb[hidden][::7][:80]).max() > 0.5

def test_match_metrics_on_the_true_correspondences(rendered_pair):
    from rpx_benchmark.metrics.matching import correspondences, match_metrics
    objs, pl, Kd, Ta, Tb, ((_, _, ma, za), (_, _, mb, zb)) = rendered_pair
    K = np.array([[Kd['fx'], 0, Kd['cx']], [0, Kd['fy'], Kd['cy']], [0, 0, 1]])
    T = relative_pose(Ta, Tb)
    pa, pb = correspondences(za, T, K, zb, ma.astype(int), mb.astype(int), step=3)
    m = match_metrics(pa, pb, za, T, K, zb, ma, mb)
    assert m['precision_1px'] == 1.0 and m['matching_score'] == 1.0 and m['correct_matches'] == len(pa)
    shifted = match_metrics(pa, pb + [2.0, 0], za, T, K, zb, ma, mb)
    assert (shifted['precision_1px'], shifted['precision_3px']) == (0.0, 1.0)
    est, _ = estimate_relative_pose(pa, pb, K)
    assert max(relative_pose_error(est, T)) < 0.05
    assert np.isnan(match_metrics(np.zeros((0, 2)), np.zeros((0, 2)), za, T, K)['precision_3px'])

# ---------- the tasks: manifests, degenerate predictions, Python API, widgets

@pytest.fixture(scope='module')
def tiny_cache(tmp_path_factory):
    old = os.environ.get('RPX_CACHE_DIR'); os.environ['RPX_CACHE_DIR'] = str(tmp_path_factory.mktemp('cache'))
    yield os.environ['RPX_CACHE_DIR']
    if old is None: os.environ.pop('RPX_CACHE_DIR', None)
    else: os.environ['RPX_CACHE_DIR'] = old

def open_tiny(task, split='all'):
    from rpx_benchmark.hub import download_split
    from rpx_benchmark.loader import RPXDataset
    return RPXDataset.from_manifest(download_split(task, split, revision='tiny'))

def test_pair_manifests(tiny_cache):
    pose, match = open_tiny('relative_camera_pose'), open_tiny('keypoint_matching')
    assert [e.id for e in pose.entries] == [e.id for e in match.entries]
    assert len({(e.scene, e.phase, e.frame) for e in pose.entries}) == len(pose)
    train = open_tiny('relative_camera_pose', 'train')
    assert not {e.scene for e in train.entries} & {e.scene for e in pose.entries}
    kinds = {'within': 0, 'cross': 0}
    for i in range(len(match)):
        s = match[i]; m = s.metadata
        kinds[m['kind']] += 1
        assert s.id == f"{s.scene}/{m['phase_a']}/{m['frame_a']:06d}-{s.phase.name}/{m['frame_b']:06d}"
        if m['kind'] == 'cross':
            assert m['phase_a'] != s.phase.name and m['rotation_deg'] <= 30 and m['overlap'] >= 0.5
            assert ['clutter', 'interaction', 'clean'].index(m['phase_a']) < s.phase.value          # the later phase
        else: assert m['phase_a'] == s.phase.name and m['stride'] == m['frame_b'] - m['frame_a']
        if m['arm_visible']: assert 200 in s.ground_truth.moved
        if m['kind'] == 'within' and s.phase.name != 'interaction': assert s.ground_truth.moved == []
        np.testing.assert_allclose(s.ground_truth.T, pose[i].ground_truth.T)
    assert kinds['within'] == 18 and kinds['cross'] > 0

def test_degenerate_pose_predictions(tiny_cache):
    from rpx_benchmark.api import validate_prediction
    from rpx_benchmark.tasks.relative_camera_pose import RelativePosePrediction
    s = open_tiny('relative_camera_pose')[0]
    T = s.ground_truth.T
    assert validate_prediction('relative_camera_pose', RelativePosePrediction(T), s) == ()
    assert validate_prediction('relative_camera_pose', RelativePosePrediction(None), s) == ('no_pose',)
    assert validate_prediction('relative_camera_pose', RelativePosePrediction(np.full((4, 4), np.nan)), s) == ('non_finite',)
    flat = T.copy(); flat[:3, 3] = 0
    assert validate_prediction('relative_camera_pose', RelativePosePrediction(flat), s) == ('no_direction',)
    for bad, what in ((np.diag([2., 1, 1, 1]), 'not orthonormal'), (np.diag([1., 1, -1, 1]), 'reflection'), (np.eye(3), 'shape')):
        with pytest.raises(AdapterError) as e: validate_prediction('relative_camera_pose', RelativePosePrediction(bad), s)
        assert s.id in e.value.message and what in e.value.message and e.value.hint
    m = RelativePoseSuite().compute(RelativePosePrediction(np.full((4, 4), np.nan)), s)
    assert m['failed'] == 1.0 and np.isnan(m['rot_err_deg'])
    assert RelativePoseSuite().evidence(RelativePosePrediction(None), s) == [None]

def test_degenerate_matches(tiny_cache):
    from rpx_benchmark.api import validate_prediction
    from rpx_benchmark.metrics.matching import KeypointMatchingSuite
    from rpx_benchmark.tasks.keypoint_matching import MatchPrediction
    s = open_tiny('keypoint_matching')[0]
    z = np.zeros((0, 2))
    assert validate_prediction('keypoint_matching', MatchPrediction(z, z), s) == ('no_matches',)
    suite = KeypointMatchingSuite()
    m = suite.compute(MatchPrediction(z, z), s)
    assert np.isnan(m['precision_3px']) and m['correct_matches'] == 0 and suite.evidence(MatchPrediction(z, z), s) == [None]
    nan = MatchPrediction(np.array([[np.nan, 1.0], [3.0, 4.0]]), np.array([[1.0, 1.0], [3.0, 4.0]]))
    assert validate_prediction('keypoint_matching', nan, s) == ('non_finite',) and suite.compute(nan, s)['n_matches'] == 1
    with pytest.raises(AdapterError) as e: validate_prediction('keypoint_matching', MatchPrediction(np.zeros((3, 2)), np.zeros((2, 2))), s)
    assert s.id in e.value.message and 'one row per match' in e.value.hint
    with pytest.raises(AdapterError, match=s.id.replace('/', '.')): validate_prediction('keypoint_matching', MatchPrediction(np.zeros((3, 3)), np.zeros((3, 3))), s)

class Oracle:
    "A model that answers from the ground truth (to check conventions end to end)."
    def __init__(self, task):
        ds = open_tiny(task)
        self.gt = {ds.entries[i].id: ds[i] for i in range(len(ds))}

def test_oracles_score_perfectly_and_numpy_models_run(tiny_cache, tmp_path):
    import rpx_benchmark as rpx
    from rpx_benchmark.metrics.matching import correspondences
    from rpx_benchmark.tasks.keypoint_matching import make_numpy_matcher
    from rpx_benchmark.tasks.relative_camera_pose import make_numpy_pose_model
    from rpx_benchmark.adapters import make_numpy_model
    o = Oracle('relative_camera_pose')
    truth = make_numpy_model(lambda x: {'T': o.gt[x.id].ground_truth.T, 'metric': True}, 'relative_camera_pose', 'oracle', inputs='input')
    _, rep, _ = rpx.bench('relative_camera_pose', model=truth, revision='tiny', output_dir=tmp_path)
    m = rep.metrics
    assert m['pose_auc_5']['value'] == 100.0 and m['rot_err_deg']['value'] == 0.0 and m['trans_err_m']['value'] == 0.0
    assert rep.phase_scores['clean']['value'] == 100.0
    res, rep, _ = rpx.bench('relative_camera_pose', model=make_numpy_pose_model(lambda a, b, K: None, name='never'), revision='tiny', output_dir=tmp_path)
    assert res.flags == {'no_pose': res.num_samples} and rep.metrics['pose_auc_20']['value'] == 0.0 and rep.metrics['failed']['value'] == 1.0
    om = Oracle('keypoint_matching')
    def true_matches(x):
        g = om.gt[x.id].ground_truth
        return correspondences(g.depth_a, g.T, x.intrinsics.K, g.depth_b, g.mask_a, g.mask_b, g.moved, step=2)
    _, rep, _ = rpx.bench('keypoint_matching', model=make_numpy_model(true_matches, 'keypoint_matching', 'oracle', inputs='input'),
                          revision='tiny', output_dir=tmp_path)
    assert rep.metrics['precision_1px']['value'] == 1.0 and rep.metrics['pose_auc_20']['value'] > 90
    res, rep, _ = rpx.bench('matching', model=make_numpy_matcher(lambda a, b: np.zeros((0, 4)), name='none'), revision='tiny', output_dir=tmp_path)
    assert res.flags['no_matches'] == res.num_samples and rep.metrics['correct_matches']['value'] == 0.0
    sheared = make_numpy_pose_model(lambda a, b, K: np.diag([1.0, 2.0, 1.0, 1.0]), name='sheared')
    with pytest.raises(AdapterError, match='not orthonormal'): rpx.bench('relative_pose', model=sheared, revision='tiny', output_dir=tmp_path)
    md, _ = rpx.compare([tmp_path / 'relative_camera_pose'])      # the leaderboard ranks the oracle first, by pose AUC at 10 degrees
    assert md.index('| 1 | oracle |') < md.index('never') and 'pose_auc_10' in md

def test_widgets_draw_matches_and_cameras(tiny_cache):
    from rpx_benchmark.widgets import DatasetExplorer
    ex = DatasetExplorer('relative_camera_pose', revision='tiny', model='pose_klt')
    assert ex.panel_titles[0].startswith('view a (clutter 0)') and len(ex.panel_titles) in (3, 4)
    assert ex.panel_titles[-1].startswith(('rot ', 'no estimate'))
    ex.task.value = 'keypoint_matching'; ex.wait()            # pose_klt does not answer it: the truth is drawn
    assert 'true correspondences' in ex.panel_titles[0] and ex.prediction is None
    from rpx_benchmark.tasks.keypoint_matching import draw
    ds = open_tiny('keypoint_matching')
    panels = draw(ds[0])
    assert panels[0].span == 2 and panels[0].lines and 'true correspondences' in panels[0].title
    from rpx_benchmark.models.registry import resolve
    from rpx_benchmark.api import ModelInput
    pred = resolve('match_klt').predict([ModelInput(ds[0], ds.spec.model_inputs)])[0]
    assert 'matches correct' in draw(ds[0], pred)[0].title

def test_results_browser_drills_into_pairs(tiny_cache, tmp_path):
    from rpx_benchmark.pipeline import bench
    from rpx_benchmark.widgets import ResultsBrowser
    dirs = [bench('relative_camera_pose', model=m, revision='tiny', output_dir=tmp_path, max_samples=8)[2]['result'].parent for m in ('pose_orb', 'pose_klt')]
    rb = ResultsBrowser(dirs)
    rb.run.value = 1; rb.sample_sel.value = 3
    assert rb.drilled.sample.id == rb.sample_rows[3]['id'] and rb.drilled.prediction is not None
    assert rb.drilled.panel_titles[-1].startswith(('rot ', 'no estimate'))

# ---------- transformers keypoint matchers, built offline with random weights

@pytest.fixture(scope='module')
def matcher_checkpoints(tmp_path_factory):
    tf = pytest.importorskip('transformers')
    import torch
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp('hf')
    sp = tf.SuperPointConfig(encoder_hidden_sizes=[8, 8, 16, 16], decoder_hidden_size=16, descriptor_decoder_dim=16, max_keypoints=64,
                             keypoint_threshold=0.0).to_dict()
    models = dict(superglue=(tf.SuperGlueConfig(keypoint_detector_config=sp, hidden_size=16, keypoint_encoder_sizes=[8, 16],
                                                gnn_layers_types=['self', 'cross'], num_attention_heads=2), 'SuperGlueImageProcessor'),
                  lightglue=(tf.LightGlueConfig(keypoint_detector_config=sp, descriptor_dim=16, hidden_size=16, num_hidden_layers=2,
                                                num_attention_heads=2, num_key_value_heads=2), 'LightGlueImageProcessor'),
                  efficientloftr=(tf.EfficientLoFTRConfig(stage_num_blocks=[1, 1, 1, 1], stage_block_stride=[[2], [1], [2], [2]],
                                                          stage_block_out_channels=[[64], [64], [128], [256]],
                                                          stage_block_in_channels=[[1], [64], [64], [128]], num_attention_layers=1),
                                  'EfficientLoFTRImageProcessor'))
    models['superpoint'] = (tf.SuperPointConfig(**sp), 'SuperPointImageProcessor')
    for name, (cfg, proc) in models.items():
        auto = tf.AutoModelForKeypointDetection if name == 'superpoint' else tf.AutoModelForKeypointMatching
        auto.from_config(cfg).eval().save_pretrained(root / name)
        proc_cls = getattr(tf, proc + 'Pil', None) or getattr(tf, proc)
        proc_cls(size={'height': 64, 'width': 96 if name == 'efficientloftr' else 80}).save_pretrained(root / name)
    return root

@pytest.mark.parametrize('task, ckpt', [('relative_camera_pose', 'superglue'), ('keypoint_matching', 'lightglue'),
                                        ('keypoint_matching', 'efficientloftr'), ('keypoint_matching', 'superpoint')])
def test_hf_matcher_end_to_end(run_cli, matcher_checkpoints, tmp_path, task, ckpt):
    r = run_cli('bench', task, '--hf-checkpoint', matcher_checkpoints / ckpt, '--revision', 'tiny', '--plain', '--max-samples', '8',
                '--output-dir', tmp_path / 'out', env={'HF_HUB_OFFLINE': '1'}, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads((tmp_path / 'out' / task / ckpt / 'all_n8_rev-tiny' / 'result.json').read_text())
    assert doc['num_samples'] == 8 and doc['model']['adapter'] == 'transformers' and 'ForKeypoint' in doc['model']['architecture']
    assert doc['compute_cost']['flops_g'] > 0 and doc['compute_cost']['params_m'] > 0

def test_hf_matches_map_to_original_pixels(tiny_cache, matcher_checkpoints):
    "On two identical images, a detector-based matcher's keypoints are the same in both, at the original image's pixel grid."
    from rpx_benchmark.api import ModelInput
    from rpx_benchmark.tasks.relative_camera_pose import hf_pair_matcher
    ds = open_tiny('keypoint_matching'); s = ds[0]
    s.inputs = dict(s.inputs, rgb_b=s.rgb)
    model, prep, matches = hf_pair_matcher(str(matcher_checkpoints / 'superglue'), threshold=-1.0)
    import torch
    p = prep([ModelInput(s, ds.spec.model_inputs)])
    with torch.inference_mode(): raw = model(**p.data)
    m = matches(raw, p)[0]
    h, w = s.shape
    assert len(m['keypoints_a']) and np.allclose(m['keypoints_a'], m['keypoints_b'], atol=1e-6)      # identical images
    assert (m['keypoints_a'] >= -0.5).all() and (m['keypoints_a'] <= [w - 0.5, h - 0.5]).all()
    if len(m['pts_a']):   # the 1/16-pixel post-processed matches sit on the keypoints read from the raw output
        d = np.linalg.norm(m['pts_a'][:, None] - m['keypoints_a'][None], axis=2).min(1)
        assert d.max() < 2 / 16
    # a detector (SuperPoint) matched by mutual nearest neighbours: on identical views every match is a keypoint with itself
    model, prep, matches = hf_pair_matcher(str(matcher_checkpoints / 'superpoint'))
    p = prep([ModelInput(s, ds.spec.model_inputs)])
    with torch.inference_mode(): m = matches(model(**p.data), p)[0]
    assert len(m['pts_a']) > 0.9 * len(m['keypoints_a']) > 0 and np.allclose(m['pts_a'], m['pts_b'])

# ---------- the default runs on the embedded `sample` data

@pytest.fixture(scope='module')
def sample_env(tmp_path_factory):
    "A cache holding the embedded `sample` dataset (generated once, not timed)."
    env = {**os.environ, 'RPX_CACHE_DIR': str(tmp_path_factory.mktemp('sample-cache'))}
    for task in ('relative_camera_pose', 'keypoint_matching'):
        subprocess.run([sys.executable, '-m', 'rpx_benchmark.cli', 'download', '--task', task], env=env, capture_output=True, timeout=900)
    return env

@pytest.mark.slow
@pytest.mark.parametrize('task, strong, baseline, metric', [('relative_camera_pose', 'pose_klt', 'pose_orb', 'pose_auc_10'),
                                                            ('keypoint_matching', 'match_klt', 'match_orb', 'precision_3px')])
def test_default_run_under_a_minute_and_stronger_beats_baseline(sample_env, tmp_path, task, strong, baseline, metric):
    run = lambda *a: subprocess.run([sys.executable, '-m', 'rpx_benchmark.cli', 'bench', *a], capture_output=True, text=True, env=sample_env,
                                    cwd=tmp_path, timeout=900)
    t0 = time.perf_counter(); r = run(task); dt = time.perf_counter() - t0      # exactly the README's command: no flags
    assert r.returncode == 0, r.stderr[-3000:]
    assert '## Phase scores' in r.stdout and dt < 60, dt
    assert run(task, '--model', baseline, '--plain').returncode == 0
    doc = {m: json.loads((tmp_path / 'rpx_results' / task / m / 'all' / 'result.json').read_text()) for m in (strong, baseline)}
    assert doc[strong]['num_samples'] == 558 and all(doc[strong]['phase_scores_ci95'][p] for p in ('clutter', 'interaction', 'clean'))
    (a, ca), (b, cb) = ((doc[m]['metrics'][metric]['value'], doc[m]['metrics'][metric]['ci95']) for m in (strong, baseline))
    assert a > b and ca[0] > cb[1], (ca, cb)

def test_bench_takes_plain_pair_functions(tmp_path, tiny_cache):
    "A plain function is wrapped by the task's wrap_function: fn(rgb_a, rgb_b, K) for poses, fn(rgb_a, rgb_b) for matches."
    import rpx_benchmark as rpx
    def no_motion(rgb_a, rgb_b, K): return np.eye(3), [0.0, 0.0, 1.0]   # still, looking ahead
    res, rep, _ = rpx.bench('relative_camera_pose', model=no_motion, revision='tiny', output_dir=tmp_path, max_samples=8)
    assert res.model['name'] == 'no_motion' and res.num_samples == 8 and 0 <= rep.metrics['pose_auc_10']['value'] <= 100
    def diagonal(rgb_a, rgb_b):
        pts = np.stack([np.arange(5, 60, 5.0)] * 2, 1); return pts, pts
    res, rep, _ = rpx.bench('keypoint_matching', model=diagonal, revision='tiny', output_dir=tmp_path, max_samples=8)
    assert res.model['name'] == 'diagonal' and res.num_samples == 8
