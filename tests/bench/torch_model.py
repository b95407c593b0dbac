"""torch_model.py - the same network in PyTorch, for the benchmarks.

Builds an nn.Sequential from this project's architecture string, loads the
weights of a DIGITCNN model file into it, and can:
  train  ARCH BATCH STEPS   images/s of a training step (SGD, Nesterov), 2 threads
  export MODEL.bin OUT.onnx the model with its softmax (and temperature) as ONNX
  infer  MODEL.bin N        mean ms of one single-image forward pass with softmax, 1 thread
  check  MODEL.bin          max |difference| between our forward pass and PyTorch's
Runs under Debian's /usr/bin/python3 with python3-torch. Prints JSON lines.
"""
import json
import re
import math
import struct
import sys
import time
import zlib

import torch
import torch.nn as nn

torch.set_num_threads(2)


def build(arch):
    layers, c, hw, flat = [], 1, 28, False
    for tok in arch.split(','):
        m = re.fullmatch(r'conv(\d+)k(\d+)(?:p(\d+))?', tok)
        if m:
            oc, k = int(m[1]), int(m[2])
            p = int(m[3]) if m[3] is not None else k // 2
            layers.append(nn.Conv2d(c, oc, k, padding=p))
            c, hw = oc, hw + 2 * p - k + 1
        elif tok == 'bn':
            layers.append(nn.BatchNorm1d(c) if flat else nn.BatchNorm2d(c))
        elif tok == 'relu':
            layers.append(nn.ReLU())
        elif tok.startswith('pool'):
            s = int(tok[4:])
            layers.append(nn.MaxPool2d(s))
            hw //= s
        elif tok == 'gap':
            layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
            hw, flat = 1, True
        elif tok.startswith('drop'):
            layers.append(nn.Dropout(int(tok[4:]) / 100))
        elif tok.startswith('fc'):
            n = int(tok[2:])
            if not flat:
                layers.append(nn.Flatten())
            layers.append(nn.Linear(c * hw * hw if not flat else c, n))
            c, hw, flat = n, 1, True
        else:
            raise ValueError('unknown layer ' + tok)
    return nn.Sequential(*layers)


def int8_weights(b, p, net):
    """version 2: each conv and fc layer's weights, channel by channel: the exponent e, then int8 values
    q meaning q * 2^e (-128: -0.0). Returns them in layer order and the offset after them."""
    out = []
    for mod in net:
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            oc, per = mod.weight.shape[0], mod.weight[0].numel()
            w = []
            for _ in range(oc):
                e = struct.unpack_from('<b', b, p)[0]
                q = struct.unpack_from('<%db' % per, b, p + 1)
                w += [-0.0 if v == -128 else math.ldexp(v, e) for v in q]
                p += 1 + per
            out.append(w)
    return out, p


def load(path):
    b = open(path, 'rb').read()
    assert b[:8] == b'DIGITCNN', 'not a DIGITCNN file'
    version, alen = struct.unpack_from('<II', b, 8)
    assert version in (1, 2), 'unsupported version %d' % version
    arch = b[16:16 + alen].decode()
    p = 16 + alen
    _, _, _, _, temperature, n_params, n_stats = struct.unpack_from('<IIIIfQQ', b, p)
    p += 36
    assert zlib.crc32(b[:-4]) == struct.unpack_from('<I', b, len(b) - 4)[0], 'CRC mismatch'
    net = build(arch)
    weights = []
    if version == 2:
        weights, p = int8_weights(b, p, net)
        n_params -= sum(len(w) for w in weights)
    vals = struct.unpack_from('<%df' % (n_params + n_stats), b, p)
    params, stats = list(vals[:n_params]), list(vals[n_params:])
    with torch.no_grad():
        for mod in net:
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                if weights:
                    mod.weight.copy_(torch.tensor(weights.pop(0)).view_as(mod.weight))
                for t in ((mod.bias,) if version == 2 else (mod.weight, mod.bias)):
                    n = t.numel()
                    t.copy_(torch.tensor(params[:n]).view_as(t))
                    del params[:n]
            elif isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                for t in (mod.weight, mod.bias):
                    n = t.numel()
                    t.copy_(torch.tensor(params[:n]))
                    del params[:n]
                n = mod.running_mean.numel()
                mod.running_mean.copy_(torch.tensor(stats[:n]))
                mod.running_var.copy_(torch.tensor(stats[n:2 * n]))
                del stats[:2 * n]
    assert not params and not stats and not weights
    net.eval()
    return arch, net, temperature


class WithSoftmax(nn.Module):
    def __init__(self, net, temperature):
        super().__init__()
        self.net, self.t = net, temperature

    def forward(self, x):
        return torch.softmax(self.net(x) / self.t, dim=1)


def main():
    cmd = sys.argv[1]
    if cmd == 'train':
        arch, batch, steps = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        net = build(arch)
        net.train()
        x = torch.rand(batch, 1, 28, 28)
        y = torch.randint(0, 10, (batch,))
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
        loss = nn.CrossEntropyLoss()

        def step():
            opt.zero_grad()
            loss(net(x), y).backward()
            opt.step()

        for _ in range(10):
            step()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        dt = time.perf_counter() - t0
        print(json.dumps({'what': 'torch_train', 'arch': arch, 'batch': batch, 'threads': torch.get_num_threads(),
                          'torch': torch.__version__, 'images_per_s': round(steps * batch / dt, 1)}))
    elif cmd == 'export':
        arch, net, t = load(sys.argv[2])
        torch.onnx.export(WithSoftmax(net, t), torch.zeros(1, 1, 28, 28), sys.argv[3], input_names=['x'],
                          output_names=['probs'], opset_version=13)
        print(json.dumps({'what': 'onnx_export', 'arch': arch, 'file': sys.argv[3]}))
    elif cmd == 'infer':
        arch, net, t = load(sys.argv[2])
        n = int(sys.argv[3])
        torch.set_num_threads(1)
        x = torch.rand(1, 1, 28, 28)
        with torch.inference_mode():
            for _ in range(50):
                torch.softmax(net(x) / t, dim=1)
            t0 = time.perf_counter()
            for _ in range(n):
                torch.softmax(net(x) / t, dim=1)
            dt = time.perf_counter() - t0
        print(json.dumps({'what': 'torch_infer', 'arch': arch, 'threads': 1, 'torch': torch.__version__,
                          'ms': round(dt * 1e3 / n, 4)}))
    elif cmd == 'check':
        arch, net, t = load(sys.argv[2])
        x = torch.rand(4, 1, 28, 28)
        with torch.no_grad():
            print(json.dumps({'what': 'torch_probs', 'input': x.flatten().tolist(),
                              'probs': torch.softmax(net(x) / t, dim=1).flatten().tolist()}))
    else:
        raise SystemExit('usage: torch_model.py train ARCH BATCH STEPS | export MODEL OUT | infer MODEL N | check MODEL')


if __name__ == '__main__':
    main()
