"""The four object-level tasks end to end on the tiny embedded data: annotations derived from masks and scene
facts, referring expressions with one referent, novel classes absent from train, bad predictions refused or
flagged naming the sample, transformers checkpoints built here, drawing and comparison."""
import json, os, re
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

import rpx_benchmark as rpx
from rpx_benchmark.errors import AdapterError, ModelError
from rpx_benchmark.tasks.objects import CLASSES, COLOURS, KINDS, RELATIONS, colour_name, mask_boxes

TASKS = ('object_detection', 'open_vocab_detection', 'object_tracking', 'visual_grounding')

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "The tiny embedded dataset with the four tasks' splits, in a cache of this module's own."
    cache = tmp_path_factory.mktemp('cache')
    old = os.environ.get('RPX_CACHE_DIR'); os.environ['RPX_CACHE_DIR'] = str(cache)
    from rpx_benchmark.hub import download_split
    for t in TASKS: download_split(t, 'all', revision='tiny'); download_split(t, 'train', revision='tiny')
    from rpx_benchmark.hub import ensure_embedded
    yield ensure_embedded('tiny')
    if old is None: os.environ.pop('RPX_CACHE_DIR', None)
    else: os.environ['RPX_CACHE_DIR'] = old

def frames(root):
    for p in sorted(root.glob('scenes/*/*/objects/*.json')): yield p, json.loads(p.read_text())

# ---------- the annotations

def test_boxes_labels_and_track_ids_come_from_masks_and_facts(tiny):
    seen = 0
    labels_of = {}
    for p, doc in frames(tiny):
        mask = np.asarray(Image.open(p.parent.parent / 'mask' / (p.stem + '.png')))
        facts = {o['id']: o for o in json.loads((p.parents[2] / 'scene.json').read_text())['objects']}
        boxes = mask_boxes(mask)
        for o in doc['objects']:
            ys, xs = np.nonzero(mask == o['id'])
            assert o['box'] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == boxes[o['id']][0] and o['pixels'] == len(xs)
            want = 'arm' if o['id'] == 200 else f"{colour_name(facts[o['id']]['color'])} {facts[o['id']]['kind']}"
            assert o['label'] == want
            assert labels_of.setdefault((p.parents[2].name, o['id']), o['label']) == o['label']   # one id, one object, in every phase
            seen += 1
        small = [i for i, (_, n) in boxes.items() if n < doc['min_pixels']]
        assert not {o['id'] for o in doc['objects']} & set(small)
    assert seen > 100

def _desc_fits(words, o, objs):
    colour = next((w for w in words if w in COLOURS), None); kind = next((w for w in words if w in KINDS), None)
    if o['label'] == 'arm' or (colour and o['colour'] != colour) or (kind and o['kind'] != kind): return False
    size = next((w for w in words if w in ('large', 'small')), None)
    if size is None: return True
    v = sorted((x['volume'] for x in objs if x['label'] == o['label']), reverse=size == 'large')   # size words come with colour and kind
    return len(v) >= 2 and o['volume'] == v[0] and (v[0] >= 1.5 * v[1] if size == 'large' else v[1] >= 1.5 * v[0])

def test_every_expression_has_exactly_one_referent(tiny):
    "An independent reading of each expression finds its referent, and no other visible object, in its frame."
    n = 0
    for _, doc in frames(tiny):
        objs = doc['objects']; margin = max(2.0, 0.02 * doc['image_size'][1])
        for e in doc['expressions']:
            t = e['text'][len('the '):]
            rel = next((r for r in RELATIONS if f' {r} the ' in t), None)
            target = t.split(f' {rel} the ')[0].split() if rel else t.split()
            fits = [o for o in objs if _desc_fits(target, o, objs)]
            assert e['id'] in [o['id'] for o in fits], e
            if rel:
                lm = [o for o in objs if _desc_fits(t.split(f' {rel} the ')[1].split(), o, objs)]
                assert len(lm) == 1, e   # the landmark is unique
                L = lm[0]['box']
                def val(b): return {'left of': L[0] - (b[0] + b[2]) / 2, 'right of': (b[0] + b[2]) / 2 - L[2], 'in front of': b[3] - L[3], 'behind': L[3] - b[3]}[rel]
                yes = [o['id'] for o in fits if o['id'] != lm[0]['id'] and val(o['box']) > margin]
                assert yes == [e['id']] and all(val(o['box']) < -margin for o in fits if o['id'] not in (e['id'], lm[0]['id'])), e
                assert len(fits) >= 2   # the relation is needed
            else:
                assert len(fits) == 1, e
            n += 1
    assert n >= 20

def test_novel_classes_never_appear_in_train(tiny):
    voc = json.loads((tiny / 'annotations/open_vocab_detection/classes.json').read_text())
    train = json.loads((tiny / 'manifests/open_vocab_detection/train.json').read_text())['samples']
    train_labels = {o['label'] for r in train for o in json.loads((tiny / r['objects']).read_text())['objects']}
    assert set(voc['novel']).isdisjoint(train_labels) and set(voc['base']) == train_labels and voc['classes'] == list(CLASSES)
    bench = json.loads((tiny / 'manifests/open_vocab_detection/all.json').read_text())['samples']
    assert {o['label'] for r in bench for o in json.loads((tiny / r['objects']).read_text())['objects']} & set(voc['novel'])

def test_annotations_are_checksummed(tiny):
    sums = json.loads((tiny / 'checksums.json').read_text())
    files = [p.relative_to(tiny).as_posix() for p, _ in frames(tiny)] + ['annotations/open_vocab_detection/classes.json']
    assert files and all(f in sums for f in files)

# ---------- bad predictions

def _bench(task, fn, **kw):
    return rpx.bench(task, model=fn, revision='tiny', output_dir=kw.pop('out'), **kw)

@pytest.mark.parametrize('task,out,message', [
    ('object_detection', dict(boxes=[[30, 5, 10, 20]], labels=[0], scores=[0.5]), 'has x2 < x1'),
    ('object_detection', dict(boxes=[[1, 1, 10, 20]], labels=[0], scores=[float('nan')]), 'score 0 is not finite'),
    ('object_detection', dict(boxes=[[1, 1, 10, 20]], labels=[0], scores=[0.4], ), None),
    ('object_detection', dict(boxes=[[1, 1, 10, 20]], labels=['mug'], scores=[0.4]), "unknown class names ['mug']"),
    ('object_detection', dict(boxes=[[1, 1, 10, 20]], labels=[99], scores=[0.4]), 'label 99 is outside the 28 classes'),
    ('object_detection', dict(boxes=[[np.inf, 1, 10, 20]], labels=[1], scores=[0.4]), 'box 0 is not finite'),
    ('object_tracking', dict(boxes=[[1, 1, 10, 20], [2, 2, 9, 9]], labels=[0, 1], scores=[0.4, 0.3], ids=[5, 5]), 'track id 5 appears twice'),
    ('object_tracking', dict(boxes=[[1, 1, 10, 20]], labels=[0], scores=[0.4]), 'one track id per box'),
])
def test_bad_predictions_are_refused_naming_the_sample(tiny, tmp_path, task, out, message):
    if message is None: _bench(task, lambda rgb: out, out=tmp_path); return
    with pytest.raises(AdapterError, match=r'sample scene_\d+/\w+/\d+: .*' + re.escape(message)): _bench(task, lambda rgb: out, out=tmp_path)

def test_boxes_outside_the_image_are_flagged_and_scored(tiny, tmp_path):
    res, rep, _ = _bench('object_detection', lambda rgb: dict(boxes=[[-40, -40, 500, 500]], labels=[1], scores=[0.9]), out=tmp_path / 'a')
    assert res.flags.get('box_outside_image') == res.num_samples and rep.metrics['map']['value'] == 0.0
    res, _, _ = _bench('visual_grounding', rpx.tasks.visual_grounding.make_numpy_grounder(lambda x: [[-5, 0, 200, 9]] * len(x.queries)), out=tmp_path / 'b')
    assert res.flags.get('box_outside_image') == res.num_samples
    with pytest.raises(AdapterError, match='boxes for'):
        _bench('visual_grounding', rpx.tasks.visual_grounding.make_numpy_grounder(lambda x: [[0, 0, 5, 5]]), out=tmp_path / 'c')

def test_a_tracker_sees_the_first_batch_twice_without_harm(tiny, tmp_path):
    "With no warm-up batch the runner predicts the first batch twice (once to count FLOPs): tracks restart, ids agree."
    a, _, _ = rpx.bench('tracking', model='track_classical_sort', revision='tiny', output_dir=tmp_path / 'a', warmup_batches=0)
    b, _, _ = rpx.bench('tracking', model='track_classical_sort', revision='tiny', output_dir=tmp_path / 'b')
    assert [r['evidence'] for r in a.rows] == [r['evidence'] for r in b.rows]

# ---------- transformers checkpoints, made here

def tiny_detr(path, labels):
    from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessor, ResNetConfig
    bb = ResNetConfig(embedding_size=8, hidden_sizes=[8, 8, 16, 16], depths=[1, 1, 1, 1], out_features=['stage4'])
    cfg = DetrConfig(use_timm_backbone=False, backbone_config=bb, use_pretrained_backbone=False, d_model=16, encoder_layers=1, decoder_layers=1,
                     encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, num_queries=12,
                     id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    import torch; torch.manual_seed(0)
    DetrForObjectDetection(cfg).eval().save_pretrained(path); DetrImageProcessor(size={'height': 64, 'width': 64}, do_pad=False).save_pretrained(path)
    return path

def tiny_owlvit(path, v2=False):
    "A randomly initialised OWL-ViT (or OWLv2) with a byte-level CLIP tokenizer written here (no merges: one token per character)."
    import transformers as tf
    from transformers import CLIPTokenizer
    OwlViTConfig, OwlViTForObjectDetection, OwlViTProcessor = (getattr(tf, f'{"Owlv2" if v2 else "OwlViT"}{k}') for k in ('Config', 'ForObjectDetection', 'Processor'))
    OwlViTImageProcessor = (lambda size, crop_size: tf.Owlv2ImageProcessor(size=size)) if v2 else tf.OwlViTImageProcessor
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:] + [256 + n for n in range(256 - len(bs))]; bs += [b for b in range(256) if b not in bs]
    chars = [chr(c) for c in cs]
    vocab = {c: i for i, c in enumerate(chars)}; vocab.update({c + '</w>': i + len(chars) for i, c in enumerate(chars)})
    vocab.update({'<|startoftext|>': len(vocab), '<|endoftext|>': len(vocab) + 1})
    path.mkdir(parents=True, exist_ok=True)
    (path / 'vocab.json').write_text(json.dumps(vocab)); (path / 'merges.txt').write_text('#version: 0.2\n')
    cfg = OwlViTConfig(text_config=dict(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                        max_position_embeddings=64, bos_token_id=len(vocab) - 2, eos_token_id=len(vocab) - 1, pad_token_id=len(vocab) - 1),
                       vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=8),
                       projection_dim=16)
    import torch; torch.manual_seed(0)
    OwlViTForObjectDetection(cfg).eval().save_pretrained(path)
    OwlViTProcessor(image_processor=OwlViTImageProcessor(size={'height': 32, 'width': 32}, crop_size={'height': 32, 'width': 32}),
                    tokenizer=CLIPTokenizer(str(path / 'vocab.json'), str(path / 'merges.txt'))).save_pretrained(path)
    return path

def tiny_grounding_dino(path):
    "A randomly initialised Grounding DINO (tiny Swin and BERT) with a word-level BERT vocabulary of the task's words."
    from transformers import (BertConfig, BertTokenizer, GroundingDinoConfig, GroundingDinoForObjectDetection, GroundingDinoImageProcessor,
                              GroundingDinoProcessor, SwinConfig)
    path.mkdir(parents=True, exist_ok=True)
    words = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '.', 'the', 'of', 'left', 'right', 'in', 'front', 'behind', 'object', 'large', 'small',
             'arm', *KINDS, *COLOURS]
    (path / 'vocab.txt').write_text('\n'.join(words) + '\n')
    bb = SwinConfig(embed_dim=8, depths=[1] * 4, num_heads=[1] * 4, window_size=2, image_size=64, out_features=['stage2', 'stage3', 'stage4'])
    tc = BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, max_position_embeddings=128)
    cfg = GroundingDinoConfig(backbone_config=bb, text_config=tc, use_timm_backbone=False, use_pretrained_backbone=False, d_model=32, encoder_layers=1,
                              decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, num_queries=12,
                              num_feature_levels=3, encoder_n_points=2, decoder_n_points=2, max_text_len=128)
    import torch; torch.manual_seed(0)
    GroundingDinoForObjectDetection(cfg).eval().save_pretrained(path)
    GroundingDinoProcessor(image_processor=GroundingDinoImageProcessor(size={'height': 64, 'width': 64}, do_pad=False),
                           tokenizer=BertTokenizer(str(path / 'vocab.txt'))).save_pretrained(path)
    return path

@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    pytest.importorskip('transformers')
    root = tmp_path_factory.mktemp('hf')
    return dict(detr=tiny_detr(root / 'detr', CLASSES), coco_detr=tiny_detr(root / 'coco_detr', ['person', 'cup', 'dog']), owl=tiny_owlvit(root / 'owl'), owl2=tiny_owlvit(root / 'owl2', v2=True),
                gdino=tiny_grounding_dino(root / 'gdino'))

@pytest.mark.parametrize('task,ckpt', [('object_detection', 'detr'), ('object_tracking', 'detr'), ('open_vocab_detection', 'owl'), ('visual_grounding', 'owl'),
                                       ('open_vocab_detection', 'owl2'), ('visual_grounding', 'owl2'),
                                       ('open_vocab_detection', 'gdino'), ('visual_grounding', 'gdino')])
def test_transformers_checkpoints_run_through_the_cli(tiny, checkpoints, run_cli, tmp_path, task, ckpt):
    r = run_cli('bench', task, '--hf-checkpoint', checkpoints[ckpt], '--revision', 'tiny', '--plain', '--output-dir', tmp_path / 'out',
                env={'RPX_CACHE_DIR': os.environ['RPX_CACHE_DIR']})
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(next((tmp_path / 'out' / task).rglob('result.json')).read_text())
    v = doc['metrics'][doc['protocol']['primary_metric']]['value']
    assert v is not None and 0 <= v <= 1 and doc['model']['adapter'] == 'transformers' and doc['compute_cost']['params_m'] > 0

def test_a_checkpoint_without_the_task_classes_is_refused(tiny, checkpoints):
    from rpx_benchmark.adapters import make_hf_model
    with pytest.raises(ModelError, match="none of the 3 labels .* is a class of object_detection"): make_hf_model(checkpoints['coco_detr'], 'detection')
    m = make_hf_model(checkpoints['coco_detr'], 'detection', label_map={'cup': 'red cylinder'})
    assert m.info['dropped_unknown_labels'] == 0

# ---------- drawing and comparing

@pytest.mark.parametrize('task', TASKS)
def test_widgets_draw_boxes_beside_ground_truth(tiny, task):
    from rpx_benchmark.hub import download_split
    from rpx_benchmark.loader import RPXDataset
    from rpx_benchmark.models.registry import resolve
    from rpx_benchmark.viz import figure, png
    from rpx_benchmark.widgets import draw_sample
    ds = RPXDataset.from_manifest(download_split(task, 'all', revision='tiny'))
    model = resolve({'object_detection': 'det_classical', 'open_vocab_detection': 'ovd_classical', 'object_tracking': 'track_classical_sort',
                     'visual_grounding': 'ground_classical'}[task])
    from rpx_benchmark.api import ModelInput
    s = ds[2]
    panels = ds.spec.draw(s, model.predict([ModelInput(s, ds.spec.model_inputs)])[0])
    assert len(panels) == 2 and panels[0].boxes and png(figure(panels))[:4] == b'\x89PNG'
    assert len(draw_sample(s, ds.spec, model).panel_titles) == 2

def test_compare_ranks_models_of_each_task(tiny, tmp_path):
    for m in ('det_classical', 'det_centernet'): rpx.bench('detection', model=m, revision='tiny', output_dir=tmp_path)
    md, _ = rpx.compare([tmp_path])
    assert 'det_classical' in md and 'det_centernet' in md

# ---------- the shipped weights against the baselines, on the default data

@pytest.mark.slow
@pytest.mark.parametrize('task,baseline,learned', [('object_detection', 'det_classical', 'det_centernet'),
                                                   ('open_vocab_detection', 'ovd_classical', 'ovd_centernet'),
                                                   ('object_tracking', 'track_classical_sort', 'track_centernet_sort'),
                                                   ('visual_grounding', 'ground_classical', 'ground_centernet')])
def test_learned_beats_baseline_on_sample(tiny, tmp_path, task, baseline, learned):
    "On the default `sample` data the learned model's interval lies above the baseline's, and phase scores differ."
    reps = {m: rpx.bench(task, model=m, output_dir=tmp_path)[1] for m in (baseline, learned)}
    lo = reps[learned].metrics[reps[learned].primary_metric]['ci95'][0]; hi = reps[baseline].metrics[reps[baseline].primary_metric]['ci95'][1]
    assert lo > hi, (lo, hi)
    ps = [reps[learned].phase_scores[p]['value'] for p in ('clutter', 'interaction', 'clean')]
    assert max(ps) - min(ps) > 0.05, ps

# ---------- corpus metrics survive an interruption

@pytest.mark.parametrize('task,model', [('object_detection', 'det_classical'), ('object_tracking', 'track_classical_sort')])
def test_a_stopped_run_resumes_to_the_same_corpus_metrics(tiny, tmp_path, task, model):
    "mAP and HOTA reduce journalled evidence: a run stopped mid-way and resumed equals one uninterrupted run, CIs included."
    import threading
    from rpx_benchmark.errors import RunStopped
    from rpx_benchmark.hub import download_split
    from rpx_benchmark.loader import RPXDataset
    from rpx_benchmark.models.registry import resolve
    from rpx_benchmark.runner import BenchmarkRunner
    ds = RPXDataset.from_manifest(download_split(task, 'all', revision='tiny'), batch_size=2)
    _, full = BenchmarkRunner(resolve(model), ds).run_with_deployment_readiness(n_boot=200)
    stop, j = threading.Event(), tmp_path / 'per_sample.jsonl'
    def tick(done, total):
        if done == 8: stop.set()
    with pytest.raises(RunStopped): BenchmarkRunner(resolve(model), ds, journal=j, progress=tick, stop=stop).run()
    kept = len(j.with_name('per_sample.partial.jsonl').read_text().splitlines()) - 1
    assert 0 < kept < len(ds) and any('evidence' in json.loads(l) for l in j.with_name('per_sample.partial.jsonl').read_text().splitlines()[1:])
    res, again = BenchmarkRunner(resolve(model), ds, journal=j, resume=True).run_with_deployment_readiness(n_boot=200)
    assert 0 < res.resumed_rows <= kept   # whole clips are reused; a clip cut in the middle is recomputed
    assert again.metrics == full.metrics and again.phase_scores == full.phase_scores
    assert again.metrics[again.primary_metric]['ci95'] == full.metrics[full.primary_metric]['ci95']
