#!/usr/bin/env python3
"""Times peer implementations of Growing Neural Cellular Automata on the CPU.

Runs the same tasks as `nca bench` and prints one JSON object per line with
the same keys:

  {"impl":"pytorch","backend":"cpu-2-threads","task":"train_step",
   "workload":"seed","batch":8,"steps":64,"grid":72,"seconds_min":3.1,
   "seconds_median":3.2,"runs":3}

Implementations:
  pytorch  the model of Mordvintsev et al., "Growing Neural Cellular Automata"
           (Distill, 2020), written here in PyTorch; timed with 1 and 2 threads.
  jax-nca  the jax-nca package (0.1.2) through its own API: NCA.multi_step for
           rollouts and jax_nca.trainer.train_step for a training iteration.

Tasks:
  train_step  one training iteration: a batch of --batch seeds on --grid
              grids, --steps steps, RGBA MSE against a target, backward,
              gradient normalisation, Adam step.
  rollout     --rollout-steps steps without gradients, batch 1 and --batch.

Workloads (--workload, as `nca bench`): seed, the runs start from seeds; full,
from grids whose every cell is alive (alpha 1, colour and hidden channels
random). PyTorch computes every cell either way; jax-nca runs only seeds.

Models (--model): growing, the paper's; texture, the self-organising textures'
model (Niklasson et al., Distill 2021, as nca trains it: 12 channels, 96 hidden
units, identity, Sobel and Laplacian filters on a wrapped grid, no alive mask,
a zero seed) trained with nca's texture loss (sliced Wasserstein between the
5x5 patches of the grid's colours and a texture's at 3 scales, 64 random
directions each, plus the overflow loss). PyTorch only.

Each task gets one untimed warm-up run (for jax-nca this is where jit
compiles), then --runs timed runs; min and median are reported. Progress goes
to stderr, results to stdout. Build the environment with setup.sh first.
"""

import argparse
import json
import statistics
import sys
import time


def log(message):
    print(f"[peers] {message}", file=sys.stderr, flush=True)


def emit(implementation, backend, task, workload, batch, steps, grid, seconds, model="growing"):
    record = {
        "impl": implementation,
        "model": model,
        "backend": backend,
        "task": task,
        "workload": workload,
        "batch": batch,
        "steps": steps,
        "grid": grid,
        "seconds_min": min(seconds),
        # statistics.median averages the middle two of an even count, as
        # `nca bench` does.
        "seconds_median": statistics.median(seconds),
        "runs": len(seconds),
    }
    # Compact, like serde_json::to_string in `nca bench`.
    print(json.dumps(record, separators=(",", ":")), flush=True)


def time_runs(label, runs, task):
    """One untimed warm-up call of `task`, then `runs` timed calls."""
    log(f"{label}: warm-up")
    started = time.perf_counter()
    task()
    log(f"{label}: warm-up took {time.perf_counter() - started:.2f}s")
    seconds = []
    for run in range(runs):
        started = time.perf_counter()
        task()
        seconds.append(time.perf_counter() - started)
        log(f"{label}: run {run + 1}/{runs} took {seconds[-1]:.3f}s")
    return seconds


def disk_target(grid, channels_last):
    """An RGBA target: an opaque orange disk in the middle (premultiplied).

    The cost of either implementation does not depend on the target; it only
    has to have the right shape.
    """
    import numpy as np

    y, x = np.mgrid[0:grid, 0:grid]
    centre = (grid - 1) / 2
    inside = ((x - centre) ** 2 + (y - centre) ** 2) <= (grid / 4) ** 2
    target = np.zeros((grid, grid, 4), dtype=np.float32)
    target[inside] = [1.0, 0.5, 0.0, 1.0]
    return target if channels_last else np.ascontiguousarray(target.transpose(2, 0, 1))


# --------------------------------------------------------------------------
# PyTorch: the paper's model.
# --------------------------------------------------------------------------

CHANNELS = 16  # RGBA + 12 hidden
HIDDEN = 128
FIRE_RATE = 0.5
ALIVE_THRESHOLD = 0.1
LEARNING_RATE = 2e-3


def bench_pytorch(args):
    import numpy as np
    import torch
    import torch.nn.functional as F

    class GrowingCa(torch.nn.Module):
        """Mordvintsev et al. 2020, NCHW layout."""

        def __init__(self):
            super().__init__()
            identity = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32)
            sobel_x = np.outer([1, 2, 1], [-1, 0, 1]).astype(np.float32) / 8.0
            sobel_y = sobel_x.T
            filters = torch.from_numpy(np.stack([identity, sobel_x, sobel_y]))
            # Depthwise: output channel 3*c + k applies filter k to input
            # channel c (the order of tf.nn.depthwise_conv2d in the paper).
            self.register_buffer(
                "perception", filters.repeat(CHANNELS, 1, 1).unsqueeze(1).contiguous()
            )
            # PyTorch's default init for both layers; the last one is not
            # zeroed so that the state actually changes.
            self.w1 = torch.nn.Conv2d(3 * CHANNELS, HIDDEN, 1)
            self.w2 = torch.nn.Conv2d(HIDDEN, CHANNELS, 1)

        @staticmethod
        def alive(x):
            return F.max_pool2d(x[:, 3:4], kernel_size=3, stride=1, padding=1) > ALIVE_THRESHOLD

        def forward(self, x):
            pre_life = self.alive(x)
            y = F.conv2d(x, self.perception, padding=1, groups=CHANNELS)
            dx = self.w2(torch.relu(self.w1(y)))
            fire = (torch.rand_like(x[:, :1]) < FIRE_RATE).to(x.dtype)
            x = x + dx * fire
            post_life = self.alive(x)
            return x * (pre_life & post_life).to(x.dtype)

    def seed(batch):
        x = torch.zeros(batch, CHANNELS, args.grid, args.grid)
        x[:, 3:, args.grid // 2, args.grid // 2] = 1.0
        return x

    def full(batch):
        generator = torch.Generator().manual_seed(7)
        shape = (batch, 1, args.grid, args.grid)
        rgb = torch.rand((batch, 3, args.grid, args.grid), generator=generator)
        hidden = torch.rand((batch, CHANNELS - 4, args.grid, args.grid), generator=generator)
        return torch.cat([rgb, torch.ones(shape), hidden * 2 - 1], dim=1)

    start = full if args.workload == "full" else seed

    target = torch.from_numpy(disk_target(args.grid, channels_last=False))

    time_pytorch(args, "growing", GrowingCa, start, lambda x: ((x[:, :4] - target) ** 2).mean(), LEARNING_RATE)


def time_pytorch(args, label, make_model, start, loss_of, learning_rate):
    """Times a training iteration (rollout, `loss_of(end)`, backward, per-parameter gradient
    normalisation, Adam) and rollouts of `make_model()` from `start(batch)` states, with each
    thread count."""
    import torch

    for threads in args.torch_threads:
        torch.set_num_threads(threads)
        backend = f"cpu-{threads}-thread" if threads == 1 else f"cpu-{threads}-threads"
        torch.manual_seed(0)
        model = make_model()
        optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)

        if "train_step" in args.tasks:

            def train_step():
                x = start(args.batch)
                for _ in range(args.steps):
                    x = model(x)
                loss = loss_of(x)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                with torch.no_grad():
                    for parameter in model.parameters():
                        parameter.grad /= parameter.grad.norm() + 1e-8
                optimiser.step()
                return loss.item()

            seconds = time_runs(f"pytorch {label} {backend} train_step", args.runs, train_step)
            emit("pytorch", backend, "train_step", args.workload, args.batch, args.steps, args.grid, seconds, label)

        if "rollout" in args.tasks:
            for batch in args.rollout_batches:

                def rollout():
                    with torch.no_grad():
                        x = start(batch)
                        for _ in range(args.rollout_steps):
                            x = model(x)
                    return x

                seconds = time_runs(f"pytorch {label} {backend} rollout batch {batch}", args.runs, rollout)
                emit("pytorch", backend, "rollout", args.workload, batch, args.rollout_steps, args.grid, seconds, label)


TEXTURE_CHANNELS = 12
TEXTURE_HIDDEN = 96
TEXTURE_LEARNING_RATE = 1e-3
PATCH, SCALES, PROJECTIONS = 5, 3, 64


def bench_pytorch_texture(args):
    import numpy as np
    import torch
    import torch.nn.functional as F

    class TextureCa(torch.nn.Module):
        """The self-organising textures' model as nca trains it, NCHW layout."""

        def __init__(self):
            super().__init__()
            identity = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32)
            sobel_x = np.outer([1, 2, 1], [-1, 0, 1]).astype(np.float32) / 8.0
            laplacian = np.array([[1, 2, 1], [2, -12, 2], [1, 2, 1]], dtype=np.float32) / 8.0
            filters = torch.from_numpy(np.stack([identity, sobel_x, sobel_x.T, laplacian]))
            self.register_buffer(
                "perception", filters.repeat(TEXTURE_CHANNELS, 1, 1).unsqueeze(1).contiguous()
            )
            self.w1 = torch.nn.Conv2d(4 * TEXTURE_CHANNELS, TEXTURE_HIDDEN, 1)
            self.w2 = torch.nn.Conv2d(TEXTURE_HIDDEN, TEXTURE_CHANNELS, 1)

        def forward(self, x):
            y = F.conv2d(F.pad(x, (1, 1, 1, 1), "circular"), self.perception, groups=TEXTURE_CHANNELS)
            dx = self.w2(torch.relu(self.w1(y)))
            fire = (torch.rand_like(x[:, :1]) < FIRE_RATE).to(x.dtype)
            return x + dx * fire

    def patch_loss(x, texture):
        """nca's TextureLoss: sorted patch projections against the texture's quantiles."""
        colours, reference = x[:, :3], texture
        total = 0.0
        for scale in range(SCALES):
            if scale:
                colours = F.avg_pool2d(colours, 2)
                reference = F.avg_pool2d(reference, 2)
            directions = torch.randn(PROJECTIONS, 3, PATCH, PATCH)
            directions /= directions.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
            projected = F.conv2d(colours, directions).flatten(2).sort(dim=2).values
            with torch.no_grad():
                wanted = F.conv2d(reference, directions).flatten(2).sort(dim=2).values
                count, available = projected.shape[2], wanted.shape[2]
                picks = ((2 * torch.arange(count) + 1) * available) // (2 * count)
                wanted = wanted[:, :, picks]
            total = total + ((projected - wanted) ** 2).mean()
        overflow = (x - x.clamp(-1.0, 1.0)).abs().sum() / x.shape[0]
        return total + overflow

    def seed(batch):
        return torch.zeros(batch, TEXTURE_CHANNELS, args.grid, args.grid)

    def full(batch):
        generator = torch.Generator().manual_seed(7)
        return torch.rand((batch, TEXTURE_CHANNELS, args.grid, args.grid), generator=generator) * 2 - 1

    start = full if args.workload == "full" else seed
    texture = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(3)) - 0.5

    time_pytorch(args, "texture", TextureCa, start, lambda x: patch_loss(x, texture), TEXTURE_LEARNING_RATE)


# --------------------------------------------------------------------------
# jax-nca, through its own API.
# --------------------------------------------------------------------------

JAX_HIDDEN_CHANNELS = 12  # 3 RGB + 12 hidden + 1 alpha = 16 channels


def bench_jax_nca(args):
    import jax
    import jax.numpy as jnp
    import jax_nca.trainer
    import numpy as np
    from jax_nca.nca import NCA
    from jax_nca.trainer import create_train_state, train_step

    # jax_nca.trainer.train_step normalises gradients with clip_grad_norm,
    # which passes a Python list to jnp.linalg.norm; JAX rejects lists there
    # (TypeError on jax 0.5.3), so the library's train step cannot run as
    # shipped. Replace that helper (a module global, looked up when
    # train_step is traced) with one computing the same thing, the gradients
    # divided by their global norm, and call the library's train_step as is.
    def clip_grad_norm(grad):
        norms = jnp.stack([jnp.linalg.norm(g) for g in jax.tree_util.tree_leaves(grad)])
        factor = 1.0 / (jnp.linalg.norm(norms) + 1e-8)
        return jax.tree_util.tree_map(lambda g: g * factor, grad)

    jax_nca.trainer.clip_grad_norm = clip_grad_norm

    # cell_fire_rate=1.0: at other rates jax-nca 0.1.2 skips the fire mask
    # altogether (its condition is inverted), and the mask it builds with
    # np.random is a constant once traced by jit. At 1.0 every cell updates.
    nca = NCA(
        num_hidden_channels=JAX_HIDDEN_CHANNELS,
        num_target_channels=3,
        alpha_living_threshold=ALIVE_THRESHOLD,
        cell_fire_rate=1.0,
        trainable_perception=False,
    )
    backend = "cpu"
    log(f"jax {jax.__version__} devices: {jax.devices()}")

    def seed(batch):
        return jnp.asarray(
            NCA.create_seed(JAX_HIDDEN_CHANNELS, 3, shape=(args.grid, args.grid), batch_size=batch),
            dtype=jnp.float32,
        )

    rng = jax.random.PRNGKey(0)
    rng, init_rng, weights_rng = jax.random.split(rng, 3)
    # The trainer's TrainState (optax.adam) with jax-nca's own initialisation.
    state = create_train_state(init_rng, nca, LEARNING_RATE, (args.grid, args.grid, 4))

    # jax-nca zero-initialises its last update layer, so nothing would change;
    # give every all-zero parameter small random values (the cost of the
    # dense XLA computation does not depend on them, but the states do).
    leaves, treedef = jax.tree_util.tree_flatten(state.params)
    keys = jax.random.split(weights_rng, len(leaves))
    leaves = [
        0.01 * jax.random.normal(key, leaf.shape, leaf.dtype) if not bool(jnp.any(leaf)) else leaf
        for key, leaf in zip(keys, leaves)
    ]
    state = state.replace(params=jax.tree_util.tree_unflatten(treedef, leaves))
    state = state.replace(opt_state=state.tx.init(state.params))

    if "train_step" in args.tasks:
        targets = jnp.asarray(np.repeat(disk_target(args.grid, channels_last=True)[None], args.batch, 0))
        seeds = seed(args.batch)
        current = {"state": state}

        def step():
            # jax_nca.trainer.train_step: jitted; rollout of num_steps with
            # lax.scan, MSE of the last 8 states' RGBA against the targets,
            # value_and_grad, global-norm gradient normalisation, Adam step.
            new_state, loss, _grads, updated, _rgb = train_step(
                nca.apply, current["state"], seeds, targets, num_steps=args.steps, rng=rng
            )
            jax.block_until_ready((new_state.params, loss, updated))
            current["state"] = new_state
            return loss

        seconds = time_runs(f"jax-nca {backend} train_step", args.runs, step)
        emit("jax-nca", backend, "train_step", "seed", args.batch, args.steps, args.grid, seconds)

    if "rollout" in args.tasks:
        params = state.params
        for batch in args.rollout_batches:
            start = seed(batch)

            def rollout():
                # nca_multi_step: jitted lax.scan; returns the final state and
                # every intermediate state, as the library does.
                final, states = nca.multi_step(params, start, rng, num_steps=args.rollout_steps)
                jax.block_until_ready((final, states))
                return final

            seconds = time_runs(f"jax-nca {backend} rollout batch {batch}", args.runs, rollout)
            emit("jax-nca", backend, "rollout", "seed", batch, args.rollout_steps, args.grid, seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per task, after one warm-up (default 3)")
    parser.add_argument("--only", choices=["pytorch", "jax-nca"], help="time only this implementation (default both)")
    parser.add_argument("--grid", type=int, default=72, help="grid size, square (default 72)")
    parser.add_argument("--steps", type=int, default=64, help="steps per training iteration (default 64)")
    parser.add_argument("--rollout-steps", type=int, default=96, help="steps per rollout (default 96)")
    parser.add_argument("--batch", type=int, default=8, help="training batch, and the larger rollout batch (default 8)")
    parser.add_argument(
        "--tasks",
        default="train_step,rollout",
        help="comma-separated tasks among train_step,rollout (default both)",
    )
    parser.add_argument(
        "--workload",
        choices=["seed", "full"],
        default="seed",
        help="start from seeds or from full grids, as `nca bench --workload` (default seed)",
    )
    parser.add_argument(
        "--model",
        choices=["growing", "texture"],
        default="growing",
        help="the paper's growing model or the textures' (PyTorch only; default growing)",
    )
    parser.add_argument(
        "--torch-threads",
        default="1,2",
        help="comma-separated PyTorch thread counts (default 1,2)",
    )
    args = parser.parse_args()

    args.tasks = [task.strip() for task in args.tasks.split(",") if task.strip()]
    unknown = set(args.tasks) - {"train_step", "rollout"}
    if unknown or not args.tasks:
        parser.error(f"--tasks takes train_step and/or rollout, not {','.join(sorted(unknown)) or 'nothing'}")
    try:
        args.torch_threads = [int(n) for n in args.torch_threads.split(",") if n.strip()]
    except ValueError:
        parser.error("--torch-threads takes comma-separated integers")
    if args.runs < 1 or args.steps < 1 or args.rollout_steps < 1 or args.batch < 1 or args.grid < 3:
        parser.error("--runs, --steps, --rollout-steps and --batch must be at least 1 and --grid at least 3")
    if not args.torch_threads or min(args.torch_threads) < 1:
        parser.error("--torch-threads needs at least one count, each at least 1")
    args.rollout_batches = sorted({1, args.batch})

    if args.model == "texture":
        if args.only == "jax-nca":
            parser.error("jax-nca has no texture model; --model texture times PyTorch only")
        bench_pytorch_texture(args)
        return
    if args.only in (None, "pytorch"):
        bench_pytorch(args)
    if args.only in (None, "jax-nca"):
        if args.workload == "seed":
            bench_jax_nca(args)
        else:
            log("jax-nca runs only the seed workload; skipped")


if __name__ == "__main__":
    main()
