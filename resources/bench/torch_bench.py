#!/usr/bin/python3
"""PyTorch twin of `fissionfusion bench train` (src/main/engine/compute/bench.ts).

Same network (conv 3x3 16/32/64 ReLU 'same', max-pool 2 after the first two,
global average pool, dense 2), batch, Adam 1e-3, random 28x28x1 images, and
timing protocol (median of the timed epochs after the warm-up ones; inference
in batches). Prints one JSON object. Run with Debian's /usr/bin/python3.
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn


def model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 2))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--epochs', type=int, default=4)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--images', type=int, default=1024)
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = model()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(a.images, 1, 28, 28)
    y = torch.randint(0, 2, (a.images,))
    batches = [(x[i:i + a.batch], y[i:i + a.batch]) for i in range(0, a.images, a.batch)]

    train_cpu, infer_cpu = [], []

    def train_epoch(cpu=None):
        net.train()
        c0 = time.process_time()
        t0 = time.perf_counter()
        for xb, yb in batches:
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
            loss.item()
        if cpu is not None:
            cpu.append((time.process_time() - c0) * 1000)
        return (time.perf_counter() - t0) * 1000

    def infer_pass(cpu=None):
        net.eval()
        c0 = time.process_time()
        t0 = time.perf_counter()
        with torch.no_grad():
            for xb, _ in batches:
                net(xb).numpy()
        if cpu is not None:
            cpu.append((time.process_time() - c0) * 1000)
        return (time.perf_counter() - t0) * 1000

    for _ in range(a.warmup):
        train_epoch()
    train = [train_epoch(train_cpu) for _ in range(a.epochs)]
    for _ in range(a.warmup):
        infer_pass()
    infer = [infer_pass(infer_cpu) for _ in range(a.epochs)]
    scale = 1024 / a.images
    print(json.dumps({
        'train_ms_per_1024': statistics.median(train) * scale,
        'infer_ms_per_1024': statistics.median(infer) * scale,
        'train_cpu_ms_per_1024': statistics.median(train_cpu) * scale,
        'infer_cpu_ms_per_1024': statistics.median(infer_cpu) * scale,
        'per_epoch_ms': train,
        'per_infer_ms': infer,
        'threads': torch.get_num_threads(),
        'version': torch.__version__,
    }))


if __name__ == '__main__':
    main()
