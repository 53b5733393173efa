"""PyTorch twin of the ProGIC network (docs/progic.md is the binding contract).

Parameter names, layouts and numerical conventions follow docs/progic.md exactly; the
golden-vector test (train/golden.py -> tests/golden/*.safetensors) checks that the WebGPU model
agrees with this file.

Works on torch 1.13 (CPU) and torch 2.x (CUDA): only plain nn.Conv2d, F.pixel_(un)shuffle and
elementwise ops are used.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# name -> dict(C1, M, D, k, C2, N, K, P); must equal the table in docs/progic.md.
# P: the decoder tail is a C1-wide block plus a 1x1 projection to 192 channels instead of
# DCVC-RT's block at 192 channels. Used where C1 < 192, where the 192-wide tail would be the
# widest (and, run once per stage in training, the costliest) block of the decoder.
CONFIGS = {
    "progic": dict(C1=368, M=8, D=14, k=3, C2=256, N=5, K=1024, P=False),
    "progic-s": dict(C1=256, M=4, D=8, k=3, C2=256, N=5, K=1024, P=False),
    "progic-t": dict(C1=96, M=2, D=4, k=1, C2=256, N=5, K=1024, P=True),
    "progic-test": dict(C1=16, M=2, D=3, k=1, C2=256, N=5, K=1024, P=False),
}

# Names that exist in the PyTorch state_dict for training only and are never exported.
TRAIN_ONLY_BUFFERS = ("rvq.ema_count", "rvq.ema_sum", "rvq.initted")


def pw(cin, cout):
    return nn.Conv2d(cin, cout, 1, bias=True)


class Mod(nn.Module):
    """Per-stage, per-channel scale and bias: t * scale[s] + bias[s] (s = stages - 1)."""

    def __init__(self, n_stages, c):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(n_stages, c))
        self.bias = nn.Parameter(torch.zeros(n_stages, c))

    def forward(self, t, s):
        # s: python int (0-based row) or LongTensor [B] of 0-based rows (one per sample)
        if isinstance(s, int):
            return t * self.scale[s].view(1, -1, 1, 1) + self.bias[s].view(1, -1, 1, 1)
        return t * self.scale[s][:, :, None, None] + self.bias[s][:, :, None, None]


class DC(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.pw1 = pw(c, c)
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=True)
        self.pw2 = pw(c, c)

    def forward(self, x):
        return self.pw2(self.dw(F.relu(self.pw1(x))))


class FFN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.pw1 = pw(c, 4 * c)
        self.pw2 = pw(2 * c, c)

    def forward(self, h):
        # u = pw1(h); relu(u[:, :2C]) * u[:, 2C:], computed as two convolutions on the weight
        # halves (same numbers, ~35% faster backward on CPU than slicing the activation)
        c2 = 2 * self.c
        w, b = self.pw1.weight, self.pw1.bias
        a = F.conv2d(h, w[:c2], b[:c2])
        g = F.conv2d(h, w[c2:], b[c2:])
        return self.pw2(F.relu(a) * g)


class DCB(nn.Module):
    """One DCVC-RT DepthConvBlock with ReLU, gated FFN, optional per-stage modulation."""

    def __init__(self, cin, cout, shortcut=False, n_stages=0):
        super().__init__()
        if cin != cout:
            self.adaptor = pw(cin, cout)
        else:
            self.adaptor = None
        self.dc = DC(cout)
        self.ffn = FFN(cout)
        self.shortcut = shortcut
        if n_stages:
            self.mod_dc = Mod(n_stages, cout)
            self.mod_ffn = Mod(n_stages, cout)
        else:
            self.mod_dc = None
            self.mod_ffn = None

    def forward(self, x, s=None):
        if self.adaptor is not None:
            x = self.adaptor(x)
        t = self.dc(x)
        if self.mod_dc is not None:
            t = self.mod_dc(t, s)
        h = x + t
        t = self.ffn(h)
        if self.mod_ffn is not None:
            t = self.mod_ffn(t, s)
        out = h + t
        if self.shortcut:
            out = out + x
        return out


class Attention(nn.Module):
    """Cheng 2020 simplified attention, residual units replaced by DCBs.

    In the decoder (modulated) both the trunk and the mask DCBs are modulated."""

    def __init__(self, c, k, n_stages=0):
        super().__init__()
        self.trunk = nn.ModuleList([DCB(c, c, n_stages=n_stages) for _ in range(k)])
        self.mask = nn.ModuleList([DCB(c, c, n_stages=n_stages) for _ in range(k)])
        self.mask_conv = pw(c, c)

    def forward(self, x, s=None):
        a = x
        for blk in self.trunk:
            a = blk(a, s)
        b = x
        for blk in self.mask:
            b = blk(b, s)
        b = self.mask_conv(b)
        return x + a * torch.sigmoid(b)


class Encoder(nn.Module):
    def __init__(self, C1, M, k, C2):
        super().__init__()
        self.head = DCB(192, C1)
        self.blocks = nn.ModuleList([DCB(C1, C1) for _ in range(M - 1)])
        self.down = nn.Conv2d(C1, C2, 3, stride=2, padding=1, bias=True)
        self.attn = Attention(C2, k)

    def forward(self, x):
        p = F.pixel_unshuffle(x - 0.5, 8)
        p = self.head(p)
        for blk in self.blocks:
            p = blk(p)
        y = self.down(p)
        return self.attn(y)


class Decoder(nn.Module):
    def __init__(self, C1, D, k, C2, N, tail_proj=False):
        super().__init__()
        self.attn = Attention(C2, k, n_stages=N)
        self.up = pw(C2, 4 * C1)
        self.up_block = DCB(C1, C1, shortcut=True, n_stages=N)
        self.blocks = nn.ModuleList([DCB(C1, C1, n_stages=N) for _ in range(D - 2)])
        if tail_proj:
            self.tail = DCB(C1, C1, n_stages=N)
            self.tail_proj = pw(C1, 192)
        else:
            self.tail = DCB(C1, 192, n_stages=N)
            self.tail_proj = None

    def forward(self, yhat, s):
        """s: 0-based modulation row (int) or LongTensor [B]. Returns the unclamped x̂ (+0.5 added)."""
        q = self.attn(yhat, s)
        q = F.pixel_shuffle(self.up(q), 2)
        q = self.up_block(q, s)
        for blk in self.blocks:
            q = blk(q, s)
        q = self.tail(q, s)
        if self.tail_proj is not None:
            q = self.tail_proj(q)
        return F.pixel_shuffle(q, 8) + 0.5

    def last_layer(self):
        """The weight the adaptive GAN weight differentiates against."""
        return self.tail_proj.weight if self.tail_proj is not None else self.tail.ffn.pw2.weight


def sq_dist(r, cb):
    """Squared distances [P, K] between rows of r [P, C] and codes cb [K, C] (fast expansion)."""
    return (r * r).sum(1, keepdim=True) - 2.0 * (r @ cb.t()) + (cb * cb).sum(1)[None, :]


class RVQ(nn.Module):
    """Residual VQ with EMA codebooks.

    `codebooks` [N, K, C2] is the tensor used for the nearest-neighbour search and is exported.
    `ema_count` [N, K] and `ema_sum` [N, K, C2] are the EMA statistics (training only, not
    exported). `ema_sum` is always equal to codebooks * smoothed(ema_count), so it can be rebuilt
    from the two (resume.pt omits it to stay small)."""

    def __init__(self, N, K, C2, decay=0.99, eps=1e-5, dead_frac=0.1):
        super().__init__()
        self.N, self.K, self.C2 = N, K, C2
        self.decay, self.eps, self.dead_frac = decay, eps, dead_frac
        self.register_buffer("codebooks", torch.randn(N, K, C2) * 0.1)
        self.register_buffer("ema_count", torch.ones(N, K))
        self.register_buffer("ema_sum", self.codebooks.clone())
        self.register_buffer("initted", torch.zeros(()))
        # usage statistics since the last reset_usage() (not saved)
        self.register_buffer("usage", torch.zeros(N, K), persistent=False)
        # dead-code restarts per stage since the last reset_usage(), on the device (read at log time)
        self.register_buffer("restart_count", torch.zeros(N, dtype=torch.long), persistent=False)

    # ---- EMA helpers -------------------------------------------------------------------------
    def smoothed_count(self):
        n = self.ema_count.sum(1, keepdim=True)
        return (self.ema_count + self.eps) / (n + self.K * self.eps) * n

    def rebuild_ema_sum(self):
        self.ema_sum.copy_(self.codebooks * self.smoothed_count()[:, :, None])

    def reset_usage(self):
        self.usage.zero_()
        self.restart_count.zero_()

    @property
    def restarts(self):
        """Dead-code restarts per stage since the last reset_usage() (reads them from the device)."""
        return self.restart_count.tolist()

    @torch.no_grad()
    def data_init(self, y, per_step_vectors, kmeans_iters=10, generator=None):
        """Initialise every codebook from encoder outputs y [B, C2, h, w] (stage by stage on the
        residuals): k-means++ seeding followed by a few Lloyd iterations."""
        r = y.permute(0, 2, 3, 1).reshape(-1, self.C2).float()
        P = r.shape[0]
        for i in range(self.N):
            cb = kmeans(r, self.K, kmeans_iters, generator)
            self.codebooks[i].copy_(cb)
            idx = sq_dist(r, cb).argmin(1)
            r = r - cb[idx]
        self.ema_count.fill_(per_step_vectors / self.K)
        self.rebuild_ema_sum()
        self.initted.fill_(1.0)
        return P

    @torch.no_grad()
    def _ema_update(self, i, r, idx):
        d = self.decay
        onehot_count = torch.bincount(idx, minlength=self.K).to(r.dtype)
        summ = torch.zeros(self.K, self.C2, device=r.device, dtype=r.dtype)
        summ.index_add_(0, idx, r)
        self.usage[i] += onehot_count
        self.ema_count[i].mul_(d).add_(onehot_count, alpha=1 - d)
        self.ema_sum[i].mul_(d).add_(summ, alpha=1 - d)
        n = self.ema_count[i].sum()
        sm = (self.ema_count[i] + self.eps) / (n + self.K * self.eps) * n
        self.codebooks[i].copy_(self.ema_sum[i] / sm[:, None])
        # dead-code restarts: codes whose EMA usage fell below dead_frac x the mean usage get a
        # random residual vector of the current batch. Every code draws one and only the dead take
        # it, so that the host never waits for the dead set (a GPU sync per stage and step).
        mean = n / self.K
        dead = self.ema_count[i] < self.dead_frac * mean
        new = r[torch.randint(0, r.shape[0], (self.K,), device=r.device)]
        if self.K > r.shape[0]:  # the same vector may go to two codes: split them apart
            new = new + 1e-3 * new.std() * torch.randn_like(new)
        self.codebooks[i] = torch.where(dead[:, None], new, self.codebooks[i])
        self.ema_count[i] = torch.where(dead, mean, self.ema_count[i])
        self.ema_sum[i] = torch.where(dead[:, None], new * mean, self.ema_sum[i])
        self.restart_count[i] += dead.sum()

    def forward(self, y, update=False):
        """y [B, C2, h, w] -> (indices [N, B, h, w], list of N straight-through latents ŷ(s),
        commitment tensor [N] with commit[s-1] = mean ‖y - sg(ŷ(s))‖²)."""
        B, C, h, w = y.shape
        flat = y.permute(0, 2, 3, 1).reshape(-1, C)
        r = flat.detach()
        acc = torch.zeros_like(r)
        indices, yhats, commits = [], [], []
        for i in range(self.N):
            cb = self.codebooks[i]
            idx = sq_dist(r, cb).argmin(1)
            q = cb[idx]
            if update:
                self._ema_update(i, r, idx)
            acc = acc + q
            r = r - q
            indices.append(idx.view(B, h, w))
            commits.append(F.mse_loss(flat, acc))
            yq = acc.view(B, h, w, C).permute(0, 3, 1, 2)
            yhats.append(y + (yq - y).detach())
        return torch.stack(indices, 0), yhats, torch.stack(commits)


def kmeans(x, K, iters, generator=None):
    """k-means++ seeding + Lloyd iterations. x [P, C] (P >= K preferable)."""
    P = x.shape[0]
    dev = x.device
    g = generator
    first = torch.randint(0, P, (1,), generator=g).item()
    centers = [x[first]]
    d2 = ((x - x[first]) ** 2).sum(1)
    chosen = torch.empty(K, dtype=torch.long)
    chosen[0] = first
    for k in range(1, K):
        tot = d2.sum()
        if tot <= 0:
            j = torch.randint(0, P, (1,), generator=g).item()
        else:
            j = torch.multinomial((d2 / tot).cpu(), 1, generator=g).item()
        chosen[k] = j
        d2 = torch.minimum(d2, ((x - x[j]) ** 2).sum(1))
    cb = x[chosen.to(dev)].clone()
    for _ in range(iters):
        idx = sq_dist(x, cb).argmin(1)
        cnt = torch.bincount(idx, minlength=K).to(x.dtype)
        s = torch.zeros_like(cb).index_add_(0, idx, x)
        used = cnt > 0
        cb[used] = s[used] / cnt[used][:, None]
    return cb


class ProGIC(nn.Module):
    def __init__(self, config="progic-t", **rvq_kw):
        super().__init__()
        cfg = CONFIGS[config] if isinstance(config, str) else dict(config)
        self.config_name = config if isinstance(config, str) else "custom"
        self.cfg = cfg
        C1, M, D, k, C2, N, K = (cfg[n] for n in ("C1", "M", "D", "k", "C2", "N", "K"))
        assert M >= 1 and D >= 2
        self.N, self.K, self.C2 = N, K, C2
        self.enc = Encoder(C1, M, k, C2)
        self.rvq = RVQ(N, K, C2, **rvq_kw)
        self.dec = Decoder(C1, D, k, C2, N, tail_proj=cfg.get("P", False))

    # ---- training-path API (NCHW batches, pixels in [0, 1]) -------------------------------------
    def encode(self, x):
        return self.enc(x)

    def quantize(self, y, update=None):
        """-> (indices [N,B,h,w], per-stage quantized latents (list, straight-through),
        commitment losses [N]). EMA codebook updates happen when update (default: self.training)."""
        if update is None:
            update = self.training
        return self.rvq(y, update=update)

    def decode(self, yhat, stage, clamp=True):
        """stage: 1..N (int) or LongTensor [B] of 1..N, one per sample."""
        s = stage - 1
        out = self.dec(yhat, s)
        return out.clamp(0.0, 1.0) if clamp else out

    def decode_stages(self, yhats, clamp=False):
        """All N progressive decodes in one batch: yhats list of N [B,C2,h,w] -> [N*B,3,H,W]
        (stage-major: rows s*B .. s*B+B-1 are stage s+1)."""
        B = yhats[0].shape[0]
        stack = torch.cat(yhats, 0)
        stages = torch.arange(1, len(yhats) + 1, device=stack.device).repeat_interleave(B)
        return self.decode(stack, stages, clamp=clamp)

    def lookup(self, indices, stages):
        """indices [N', B, h, w] (at least `stages` rows) -> ŷ(stages) [B, C2, h, w], summed in
        stage order."""
        acc = None
        for i in range(stages):
            q = self.rvq.codebooks[i][indices[i].long()]  # [B,h,w,C2]
            acc = q if acc is None else acc + q
        return acc.permute(0, 3, 1, 2).contiguous()

    # ---- single-image inference helpers ------------------------------------------------------
    @staticmethod
    def pad16(x):
        """x [B,3,H,W] -> replicate-padded on bottom/right to multiples of 16."""
        H, W = x.shape[-2:]
        ph, pw_ = (-H) % 16, (-W) % 16
        if ph or pw_:
            x = F.pad(x, (0, pw_, 0, ph), mode="replicate")
        return x

    @staticmethod
    def to_nchw(img):
        t = torch.as_tensor(img)
        if t.dim() == 2:
            t = t[:, :, None]
        if t.shape[-1] == 1:
            t = t.expand(-1, -1, 3)
        return t.permute(2, 0, 1)[None].float()

    @torch.no_grad()
    def latent(self, img, presmoothing=0.0):
        """img [H, W, 3] (or [H, W] / [H, W, 1]) float in [0, 1] -> encoder output y [h, w, C2]
        of the padded image (the codec path), on the codebooks' device. presmoothing: the
        encoder's pre-filter (`smooth_image` of the padded image at that strength; 0: off), as
        the TypeScript encoder applies it (export.DEFAULT_PRESMOOTHING by default there)."""
        x = self.pad16(self.to_nchw(img).to(self.rvq.codebooks.device))
        if presmoothing > 0:
            x = smooth_image(x, presmoothing)
        return self.encode(x)[0].permute(1, 2, 0)

    @torch.no_grad()
    def compress(self, img, exact=False, beams=1, presmoothing=0.0):
        """img [H, W, 3] (or [H, W] / [H, W, 1]) float in [0, 1] -> indices [N, h, w] (int64).
        beams > 1: beam search (`beam_search`) instead of greedy nearest codes. presmoothing: see
        `latent`."""
        y = self.latent(img, presmoothing)
        if beams > 1:
            return beam_search(y, self.rvq.codebooks, beams, exact=exact)
        if exact:
            idx, _ = exact_search(y, self.rvq.codebooks)
            return idx
        idx, _, _ = self.quantize(y.permute(2, 0, 1)[None], update=False)
        return idx[:, 0]

    @torch.no_grad()
    def decompress(self, indices, stages, H, W, smoothing=0.0):
        """indices [N, h, w] -> image [H, W, 3] float in [0, 1] from the first `stages` stages,
        post-filtered by `smooth_image` at `smoothing` (the codec's decoder uses
        export.DEFAULT_SMOOTHING) before clamping and cropping, as the TypeScript decoder does."""
        idx = torch.as_tensor(indices).to(self.rvq.codebooks.device)[:, None]
        return self.render(self.lookup(idx, stages), stages, H, W, smoothing)

    @torch.no_grad()
    def render(self, yhat, stages, H, W, smoothing=0.0):
        """A quantized latent yhat [1, C2, h, w] -> image [H, W, 3] in [0, 1], decoded with the
        stage-`stages` modulation, post-filtered, clamped and cropped as `decompress` does."""
        x = self.decode(yhat, stages, clamp=False)
        if smoothing > 0:
            x = smooth_image(x, smoothing)
        return x.clamp(0.0, 1.0)[0, :, :H, :W].permute(1, 2, 0)


def smooth_image(x, strength):
    """x [B, C, H, W] -> x + strength * (blur(x) - x), blur the separable [1 2 1]^2 / 16 kernel
    with replicated edges: the decoder's post-filter (the `smooth` op of src/ops/smooth.ts)."""
    k1 = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype, device=x.device)
    k = (k1[:, None] * k1[None, :] / 16.0).expand(x.shape[1], 1, 3, 3)
    b = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k, groups=x.shape[1])
    return x + strength * (b - x)


@torch.no_grad()
def exact_search(y_hwc, codebooks):
    """Reference RVQ search used for golden vectors: residuals in float32 (r = r - C[idx]),
    distances ‖r - c‖² evaluated exactly in float64, lowest index wins ties.
    y_hwc [h, w, C2] -> (indices [N, h, w] int64, gap [N, h, w] float32)."""
    h, w, C = y_hwc.shape
    r = y_hwc.reshape(-1, C).float()
    idxs, gaps = [], []
    for i in range(codebooks.shape[0]):
        cb = codebooks[i].float()
        d = ((r.double()[:, None, :] - cb.double()[None, :, :]) ** 2).sum(-1)  # [P, K]
        two = torch.topk(d, 2, dim=1, largest=False)
        idx = d.argmin(1)  # first minimal index
        idxs.append(idx.view(h, w))
        gaps.append((two.values[:, 1] - two.values[:, 0]).float().view(h, w))
        r = r - cb[idx]
    return torch.stack(idxs), torch.stack(gaps)


def beam_widths(stages, beams):
    """Beams kept after each stage of a `beams`-wide search (as src/models/progic/network.ts):
    `beams` after every stage but the last, which keeps the winner."""
    return [beams if s < stages - 1 else 1 for s in range(stages)]


@torch.no_grad()
def beam_search(y_hwc, codebooks, beams, stages=None, exact=False):
    """Residual-VQ beam search: keeps the `beam_widths` cheapest partial paths by residual energy
    ‖r_b − c_k‖² = ‖r_b‖² − 2 r_b·c_k + ‖c_k‖² (candidates in ascending order, the lower b·K + k
    first on ties), residuals in float32, distances in float64 when `exact` (golden vectors).
    y_hwc [h, w, C2] -> indices [stages, h, w] int64 of the winning path."""
    return beam_paths(y_hwc, codebooks, beams, stages, exact, keep_all=False)[0]


@torch.no_grad()
def beam_paths(y_hwc, codebooks, beams, stages=None, exact=False, keep_all=True):
    """`beam_search` keeping all `beams` complete paths at the last stage (src/models/progic/
    network.ts `paths`), for the rate-aware choice among them (choice.py): -> [B, stages, h, w]
    int64, path 0 the winner, in ascending order of residual energy."""
    h, w, C = y_hwc.shape
    S = stages or codebooks.shape[0]
    dt = torch.float64 if exact else torch.float32
    res = y_hwc.reshape(-1, 1, C).float()  # [P, b, C]
    P = res.shape[0]
    path = torch.zeros(P, 1, 0, dtype=torch.long, device=res.device)
    widths = [beams] * S if keep_all else beam_widths(S, beams)
    for s, keep in enumerate(widths):
        cb = codebooks[s].float()
        K = cb.shape[0]
        r, c = res.to(dt), cb.to(dt)
        d = (r * r).sum(-1, keepdim=True) - 2.0 * (r @ c.t()) + (c * c).sum(-1)  # [P, b, K]
        order = torch.sort(d.reshape(P, -1), dim=1, stable=True).indices[:, :keep]
        src, code = order // K, order % K
        res = torch.gather(res, 1, src[..., None].expand(-1, -1, C)) - cb[code]
        path = torch.cat([torch.gather(path, 1, src[..., None].expand(-1, -1, path.shape[2])),
                          code[..., None]], 2)
    return path.permute(1, 2, 0).reshape(-1, S, h, w)


def param_names(model):
    """Exported names (state_dict minus training-only buffers)."""
    return [n for n in model.state_dict().keys() if n not in TRAIN_ONLY_BUFFERS]


def is_f32_kept(name):
    """Tensors that stay F32 when weights are stored as F16: the codebooks (nearest-code search
    resolves near-ties) and the per-stage modulation (scale + bias added at every stage)."""
    return name == "rvq.codebooks" or ".mod_dc." in name or ".mod_ffn." in name


def count_params(model):
    sd = {n: t for n, t in model.state_dict().items() if n not in TRAIN_ONLY_BUFFERS}
    tot = sum(t.numel() for t in sd.values())
    enc = sum(t.numel() for n, t in sd.items() if n.startswith("enc."))
    dec = sum(t.numel() for n, t in sd.items() if n.startswith("dec."))
    rvq = sum(t.numel() for n, t in sd.items() if n.startswith("rvq."))
    return dict(total=tot, enc=enc, dec=dec, rvq=rvq)


if __name__ == "__main__":
    for name in CONFIGS:
        m = ProGIC(name)
        print(name, count_params(m))
