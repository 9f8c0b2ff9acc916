"""Programs worth opening first, for the API's /examples and the explorer's presets.

Pure data, in the order of a first lecture: the chain rule on the worked example, how gradients add
up and get routed, single neurons, then gradient descent, then what goes wrong. Every entry has an
English and a Chinese title and explanation; an entry with "params" is ready for a descent step at
its "learning_rate" (tests/engine/test_examples.py checks all of that).
"""
from __future__ import annotations

from typing import Any

EXAMPLES: list[dict[str, Any]] = [
    # ---- The chain rule ------------------------------------------------------------------------
    {
        "id": "worked-example",
        "title": {"en": "The worked example: f = (x + y) · z", "zh": "例题：f = (x + y) · z"},
        "source": "q = x + y\nf = q * z",
        "values": {"x": -2, "y": 5, "z": -4},
        "explain": {
            "en": "q = 3 and f = -12. Backward: df/dq = z = -4, df/dz = q = 3, and since dq/dx = dq/dy = 1, "
                  "df/dx = df/dy = -4.",
            "zh": "q = 3，f = -12。反向：df/dq = z = -4，df/dz = q = 3；又因 dq/dx = dq/dy = 1，"
                  "所以 df/dx = df/dy = -4。",
        },
    },
    {
        "id": "used-twice",
        "title": {"en": "A value used twice: gradients add up", "zh": "一个值用两次：梯度相加"},
        "source": "b = a + a\nc = b + b",
        "values": {"a": 3},
        "explain": {
            "en": "a feeds b along two edges and b feeds c along two: dc/db = 1 + 1 = 2 and dc/da = 2 + 2 = 4.",
            "zh": "a 经两条边流向 b，b 经两条边流向 c：dc/db = 1 + 1 = 2，dc/da = 2 + 2 = 4。",
        },
    },
    {
        "id": "square",
        "title": {"en": "x · x: the product rule by accumulation", "zh": "x · x：用累加得到乘积法则"},
        "source": "f = x * x",
        "values": {"x": 3},
        "explain": {"en": "Each use of x contributes the other factor, 3, so df/dx = 3 + 3 = 6 = 2x.",
                    "zh": "x 的每次使用都贡献另一个因子 3，所以 df/dx = 3 + 3 = 6 = 2x。"},
    },
    {
        "id": "division",
        "title": {"en": "Division: a share x / (x + y)", "zh": "除法：占比 x / (x + y)"},
        "source": "s = x + y\nf = x / s",
        "values": {"x": 1, "y": 3},
        "explain": {
            "en": "s = 4 and f = 0.25. The local derivatives of a / b are 1/b and -a/b², so df/ds = -1/16 = -0.0625. "
                  "x is used twice: df/dx = 1/4 + (-0.0625)(1) = 0.1875, while df/dy = -0.0625.",
            "zh": "s = 4，f = 0.25。a / b 的局部导数是 1/b 和 -a/b²，所以 df/ds = -1/16 = -0.0625。"
                  "x 用了两次：df/dx = 1/4 + (-0.0625)(1) = 0.1875，而 df/dy = -0.0625。",
        },
    },
    # ---- Routing -------------------------------------------------------------------------------
    {
        "id": "max-min",
        "title": {"en": "max and min: the gradient takes one road", "zh": "max 与 min：梯度只走一条路"},
        "source": "m = max(x, y)\nn = min(y, z)\nf = m * n",
        "values": {"x": 1, "y": 3, "z": 2},
        "explain": {
            "en": "m = max(1, 3) = 3 comes from y and n = min(3, 2) = 2 comes from z, so f = 6. The gradient goes "
                  "only to the input that won: df/dx = 0, df/dy = n = 2, df/dz = m = 3.",
            "zh": "m = max(1, 3) = 3 来自 y，n = min(3, 2) = 2 来自 z，所以 f = 6。梯度只流向胜出的输入："
                  "df/dx = 0，df/dy = n = 2，df/dz = m = 3。",
        },
    },
    {
        "id": "relu-gate",
        "title": {"en": "ReLU and max: gradient routers", "zh": "ReLU 与 max：梯度的路由器"},
        "source": "h = relu(w * x + b)\nf = max(h, c)",
        "values": {"w": 1.5, "x": 2, "b": -1, "c": 1},
        "explain": {
            "en": "relu passes the gradient only where its input is positive; max sends it all to the larger input.",
            "zh": "relu 只在输入为正时让梯度通过；max 把梯度全部送给较大的输入。",
        },
    },
    # ---- Neurons -------------------------------------------------------------------------------
    {
        "id": "sigmoid-neuron",
        "title": {"en": "A sigmoid neuron", "zh": "sigmoid 神经元"},
        "source": "z = w0 * x0 + w1 * x1 + b\na = sigmoid(z)",
        "values": {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "b": -3},
        "params": ["w0", "w1", "b"],
        "learning_rate": 0.5,
        "explain": {
            "en": "z = 1 and a = sigmoid(1) ≈ 0.731. The sigmoid's local derivative is a(1 - a) ≈ 0.197, "
                  "so dw0 = x0 · 0.197 ≈ -0.197.",
            "zh": "z = 1，a = sigmoid(1) ≈ 0.731。sigmoid 的局部导数为 a(1 - a) ≈ 0.197，"
                  "所以 dw0 = x0 · 0.197 ≈ -0.197。",
        },
    },
    {
        "id": "tanh-neuron",
        "title": {"en": "A tanh neuron with a squared error", "zh": "带平方误差的 tanh 神经元"},
        "source": "z = w * x + b\na = tanh(z)\nL = (a - t) ** 2",
        "values": {"w": 0.5, "x": 1.5, "b": -0.2, "t": 0.8},
        "params": ["w", "b"],
        "learning_rate": 0.1,
        "explain": {
            "en": "The loss L measures how far the output a is from the target t. Its gradient flows back "
                  "through tanh, whose slope is 1 - a².",
            "zh": "损失 L 衡量输出 a 与目标 t 的距离。梯度经过 tanh 反向传播，tanh 的斜率为 1 - a²。",
        },
    },
    {
        "id": "relu-neuron",
        "title": {"en": "A two-input ReLU neuron with a squared error", "zh": "两个输入的 ReLU 神经元与平方误差"},
        "source": "z = w1 * x1 + w2 * x2 + b\nh = relu(z)\nL = (h - t) ** 2",
        "values": {"w1": 0.5, "x1": 2, "w2": -1, "x2": 0.5, "b": 0.2, "t": 2},
        "params": ["w1", "w2", "b"],
        "learning_rate": 0.05,
        "explain": {
            "en": "z = 0.7 > 0, so the ReLU passes its gradient unchanged: dL/dz = 2(h - t) = -2.6, then "
                  "dL/dw1 = -2.6 · x1 = -5.2, dL/dw2 = -2.6 · x2 = -1.3 and dL/db = -2.6. If z falls below 0 "
                  "the ReLU passes nothing back and the weights stop learning (a dead ReLU).",
            "zh": "z = 0.7 > 0，所以 ReLU 把梯度原样传回：dL/dz = 2(h - t) = -2.6，于是 "
                  "dL/dw1 = -2.6 · x1 = -5.2，dL/dw2 = -2.6 · x2 = -1.3，dL/db = -2.6。如果 z 小于 0，"
                  "ReLU 就不传回任何梯度，权重不再学习（“死亡” ReLU）。",
        },
    },
    {
        "id": "softplus",
        "title": {"en": "Softplus: log(1 + exp(x))", "zh": "Softplus（平滑的 ReLU）：log(1 + exp(x))"},
        "source": "e = exp(x)\nf = log(1 + e)",
        "values": {"x": 2},
        "explain": {
            "en": "f ≈ 2.127, a smooth ReLU. Backward: d log(u)/du = 1/u and d exp(x)/dx = exp(x), so "
                  "df/dx = e / (1 + e) = sigmoid(2) ≈ 0.8808. Try x = 1000: exp overflows and f becomes "
                  "infinite, although the true f is about 1000; libraries use a rearranged, stable formula.",
            "zh": "f ≈ 2.127，是一个光滑的 ReLU。反向：d log(u)/du = 1/u，d exp(x)/dx = exp(x)，所以 "
                  "df/dx = e / (1 + e) = sigmoid(2) ≈ 0.8808。试试 x = 1000：exp 溢出，f 成为无穷大，"
                  "而真正的 f 约为 1000；所以程序库改用一个变形后的稳定公式。",
        },
    },
    {
        "id": "vanishing-sigmoids",
        "title": {"en": "Five sigmoids in a row: the gradient vanishes", "zh": "连续五个 sigmoid：梯度消失"},
        "source": "h1 = sigmoid(x)\nh2 = sigmoid(h1)\nh3 = sigmoid(h2)\nh4 = sigmoid(h3)\nf = sigmoid(h4)",
        "values": {"x": 1},
        "explain": {
            "en": "A sigmoid's slope is s(1 - s), at most 0.25, and the chain rule multiplies one slope per "
                  "layer: df/dh4 ≈ 0.2246, df/dh3 ≈ 0.05042, df/dh2 ≈ 0.01127, df/dh1 ≈ 0.002473, "
                  "df/dx ≈ 0.0004861. Early layers of a deep sigmoid network learn very slowly.",
            "zh": "sigmoid 的斜率是 s(1 - s)，最大为 0.25；链式法则每经过一层就乘上一个斜率："
                  "df/dh4 ≈ 0.2246，df/dh3 ≈ 0.05042，df/dh2 ≈ 0.01127，df/dh1 ≈ 0.002473，"
                  "df/dx ≈ 0.0004861。所以深层 sigmoid 网络的前几层学得很慢。",
        },
    },
    # ---- Gradient descent ----------------------------------------------------------------------
    {
        "id": "squared-loss",
        "title": {"en": "Fit one weight: gradient descent on (w·x - y)²", "zh": "拟合一个权重：对 (w·x - y)² 做梯度下降"},
        "source": "p = w * x\nL = (p - y) ** 2",
        "values": {"w": 0.2, "x": 2, "y": 3},
        "params": ["w"],
        "learning_rate": 0.05,
        "explain": {
            "en": "dL/dw = 2(p - y) · x. A small learning rate lowers L a little each step; try 0.3 to see it "
                  "overshoot.",
            "zh": "dL/dw = 2(p - y) · x。学习率小时每一步 L 都下降一点；试试 0.3，看看越过最低点。",
        },
    },
    {
        "id": "line-fit",
        "title": {"en": "Fit a line through two points: w and b", "zh": "用一条直线拟合两个点：w 与 b"},
        "source": "e1 = w * x1 + b - y1\ne2 = w * x2 + b - y2\nL = (e1 ** 2 + e2 ** 2) / 2",
        "values": {"w": 0, "b": 0, "x1": 1, "y1": 1, "x2": 3, "y2": 5},
        "params": ["w", "b"],
        "learning_rate": 0.05,
        "explain": {
            "en": "The line y = 2x - 1 passes through (1, 1) and (3, 5), where L = 0. At w = b = 0: L = 13, "
                  "dL/dw = e1 · x1 + e2 · x2 = -16 and dL/db = e1 + e2 = -6. w gets close to 2 in a few steps, while b "
                  "first moves the wrong way and then creeps toward -1: the loss is a long, narrow valley. Above a "
                  "rate of about 0.17 the steps diverge.",
            "zh": "直线 y = 2x - 1 经过 (1, 1) 和 (3, 5)，在那里 L = 0。在 w = b = 0 处：L = 13，"
                  "dL/dw = e1 · x1 + e2 · x2 = -16，dL/db = e1 + e2 = -6。w 几步之内就接近 2，而 b 先朝错误的"
                  "方向走，然后才慢慢移向 -1：损失是一条又长又窄的山谷。学习率大于约 0.17 时，迭代会发散。",
        },
    },
    # ---- When numbers break --------------------------------------------------------------------
    {
        "id": "numerically-bad",
        "title": {"en": "When numbers break: log(0) and 0 · ∞", "zh": "数值出问题：log(0) 与 0 · ∞"},
        "source": "u = log(x)\nf = x * u",
        "values": {"x": 0},
        "explain": {
            "en": "log(0) is -infinity (a division by zero), and 0 · (-infinity) is not a number. The node where "
                  "it began is marked, and so is every gradient it poisoned.",
            "zh": "log(0) 是负无穷（除以零），0 · (负无穷) 不是一个数。出问题的起点会被标出，被它污染的梯度也会被标出。",
        },
    },
]
