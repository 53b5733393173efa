"""Average the weights of several progic checkpoints of one lineage (a "model soup" / SWA-style
average): `python3 train/soup.py --out OUT.pt BASE.pt OTHER.pt [...]`.

Every floating-point parameter of the encoder and decoder becomes the mean over all inputs. The
residual VQ (codebooks and their EMA state) is taken from BASE unchanged: codebooks are EMA k-means
whose entries are replaced by dead-code restarts, so the same index need not mean the same vector
in two checkpoints, and an averaged codebook could be garbage where the checkpoints disagree. BASE
should therefore be the latest checkpoint, whose codebooks follow the encoder most closely. The
output keeps BASE's other fields (step, history, args) plus a `soup` record, and `export.py --ckpt
OUT.pt` reads it (resuming training from it is untested)."""
import argparse
import os

import torch

import ckpt


def soup(base, others):
    """base, others: loaded checkpoints (dicts with 'cfg' and 'model') -> base with averaged model."""
    for o in others:
        if o["cfg"] != base["cfg"]:
            raise SystemExit(f"cfg mismatch: {o['cfg']} != {base['cfg']}")
    model = base["model"]
    for k, v in model.items():
        if k.startswith("rvq.") or not v.is_floating_point():
            continue
        acc = v.double()
        for o in others:
            acc = acc + o["model"][k].double()
        model[k] = (acc / (1 + len(others))).to(v.dtype)
    return base


def load(path):
    """A training checkpoint (.pt), or exported weights (.safetensors: F16-rounded, no EMA state)."""
    if path.endswith(".safetensors"):
        from export import model_from_safetensors
        model = model_from_safetensors(path)  # already widened to F32
        return {"config": model.config_name, "cfg": model.cfg, "model": model.state_dict(), "step": None}
    return ckpt.load(path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--force", action="store_true", help="overwrite --out")
    ap.add_argument("base", help="the latest checkpoint: its codebooks and fields are kept")
    ap.add_argument("others", nargs="+")
    a = ap.parse_args(argv)
    if os.path.exists(a.out) and not a.force:
        raise SystemExit(f"{a.out} exists (use --force)")
    base = load(a.base)
    others = [load(p) for p in a.others]
    out = soup(base, others)
    for key in ("opt", "disc", "disc_opt", "rng"):
        out.pop(key, None)  # the optimizer moments belong to one trajectory, not to the mean
    members = [(a.base, base.get("step"))] + [(p, o.get("step")) for p, o in zip(a.others, others)]
    out["soup"] = [{"checkpoint": p, "step": s} for p, s in members]
    torch.save(out, a.out)
    print(f"wrote {a.out}: mean of {len(members)} checkpoints (steps {[s for _, s in members]}), "
          f"codebooks from {a.base}; config {out.get('config')}")


if __name__ == "__main__":
    main()
