"""Programs worth opening first, for the API's /examples and the explorer's presets."""
from __future__ import annotations

from typing import Any

EXAMPLES: list[dict[str, Any]] = [
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
        "id": "relu-gate",
        "title": {"en": "ReLU and max: gradient routers", "zh": "ReLU 与 max：梯度的路由器"},
        "source": "h = relu(w * x + b)\nf = max(h, c)",
        "values": {"w": 1.5, "x": 2, "b": -1, "c": 1},
        "explain": {
            "en": "relu passes the gradient only where its input is positive; max sends it all to the larger input.",
            "zh": "relu 只在输入为正时让梯度通过；max 把梯度全部送给较大的输入。",
        },
    },
]
