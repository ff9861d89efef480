#!/usr/bin/python3
"""PyTorch twin of `fissionfusion bench train` (src/main/engine/compute/bench.ts).

Same network (conv 3x3 16/32/64 ReLU 'same', max-pool 2 after the first two,
global average pool, dense 2), batch, Adam 1e-3, random 28x28x1 images, and
timing protocol (median of the timed epochs after the warm-up ones; inference
in batches). Prints one JSON object. Run with Debian's /usr/bin/python3.

With --arch NAME it is the twin of `bench train --arch NAME` (bench_arch.ts):
torchvision's network of the same shape (resnet18, resnet50, mobilenet_v2; the
stem adapted to the input channels, and to the engine's small-image stem under
64 px), or the engine's smallcnn; AdamW (lr 1e-4, weight decay 1e-4), softmax
cross-entropy, one fixed random batch; per-step times of --steps training steps
and as many inference passes (eval mode, no_grad) after --warmup of each.
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


def conv_bn(cin, cout, k=3, stride=1, groups=1, act=nn.ReLU):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return layers + ([act(inplace=True)] if act else [])


def smallcnn(channels, classes):
    """The engine's smallcnn (src/main/engine/models/smallcnn.ts)."""
    return nn.Sequential(
        *conv_bn(channels, 32), *conv_bn(32, 32), nn.MaxPool2d(2),
        *conv_bn(32, 64), *conv_bn(64, 64), nn.MaxPool2d(2),
        *conv_bn(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, classes))


def arch_model(name, channels, classes, stem):
    """torchvision's network of the engine's shape for `name`."""
    import torchvision
    if name == 'smallcnn':
        return smallcnn(channels, classes)
    if name in ('resnet18', 'resnet50'):
        net = getattr(torchvision.models, name)(num_classes=classes)
        if stem == 'small':
            net.conv1 = nn.Conv2d(channels, 64, 3, 1, 1, bias=False)
            net.maxpool = nn.Identity()
        elif channels != 3:
            net.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
        return net
    if name == 'mobilenet_v2':
        net = torchvision.models.mobilenet_v2(num_classes=classes)
        if stem == 'small' or channels != 3:
            net.features[0][0] = nn.Conv2d(channels, 32, 3, 1 if stem == 'small' else 2, 1, bias=False)
        return net
    if name == 'densenet121':
        net = torchvision.models.densenet121(num_classes=classes)
        if channels != 3:
            net.features.conv0 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
        return net
    raise SystemExit(f'torch_bench.py: no twin for architecture {name!r}')


def arch_main(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = arch_model(a.arch, a.channels, a.classes, a.stem)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(a.batch, a.channels, a.size, a.size)
    y = torch.arange(a.batch) % a.classes

    train_cpu, infer_cpu = [], []

    def step(cpu=None):
        net.train()
        c0 = time.process_time()
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        loss.item()
        if cpu is not None:
            cpu.append((time.process_time() - c0) * 1000)
        return (time.perf_counter() - t0) * 1000

    def infer(cpu=None):
        net.eval()
        c0 = time.process_time()
        t0 = time.perf_counter()
        with torch.no_grad():
            net(x).numpy()
        if cpu is not None:
            cpu.append((time.process_time() - c0) * 1000)
        return (time.perf_counter() - t0) * 1000

    for _ in range(a.warmup):
        step()
    train = [step(train_cpu) for _ in range(a.steps)]
    for _ in range(a.warmup):
        infer()
    inference = [infer(infer_cpu) for _ in range(a.steps)]
    print(json.dumps({
        'train_ms': train,
        'infer_ms': inference,
        'train_cpu_ms': train_cpu,
        'infer_cpu_ms': infer_cpu,
        'threads': torch.get_num_threads(),
        'version': torch.__version__,
        'params': sum(p.numel() for p in net.parameters() if p.requires_grad),
    }))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--arch')
    p.add_argument('--size', type=int, default=64)
    p.add_argument('--channels', type=int, default=3)
    p.add_argument('--classes', type=int, default=10)
    p.add_argument('--stem', choices=['small', 'imagenet'], default='imagenet')
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--epochs', type=int, default=4)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--images', type=int, default=1024)
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    if a.arch:
        return arch_main(a)
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
