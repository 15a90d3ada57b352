"""Reference values for very deep networks, computed with mpmath at 60 digits.

An independent implementation of the neural-tangents recursion (reference README §2):
Sigma0 = x.x'/d, Theta0 = 0; Dense ('ntk'): Sigma <- w2*Sigma + b2, Theta <- Sigma_new + w2*Theta;
activation: Sigma <- T, Theta <- Theta*Tdot, variances q <- T(q;q,q).
ReLU: theta = acos(c/sqrt(P)) (exact at 60 digits), T = sqrt(P)/(2pi)(sin th + (pi-th) cos th), Tdot = (pi-th)/(2pi).
Erf:  T = (2/pi) asin(2c/sqrt((1+2q1)(1+2q2))), Tdot = (4/pi)/sqrt((1+2q1)(1+2q2)-4c^2).
Run: python3 gen_deep.py > deep_mp.json
"""
import json
import mpmath as mp

mp.mp.dps = 60


def relu(c, q1, q2):
    P = q1 * q2
    r = c / mp.sqrt(P)
    r = max(min(r, mp.mpf(1)), mp.mpf(-1))
    th = mp.acos(r)
    return mp.sqrt(P) / (2 * mp.pi) * (mp.sin(th) + (mp.pi - th) * mp.cos(th)), (mp.pi - th) / (2 * mp.pi)


def erf(c, q1, q2):
    d = (1 + 2 * q1) * (1 + 2 * q2)
    return 2 / mp.pi * mp.asin(2 * c / mp.sqrt(d)), 4 / mp.pi / mp.sqrt(d - 4 * c * c)


def kernel(act, depth, w, b, x1, x2):
    d = len(x1)
    c = mp.fsum(mp.mpf(a) * mp.mpf(bb) for a, bb in zip(x1, x2)) / d
    q1 = mp.fsum(mp.mpf(a) ** 2 for a in x1) / d
    q2 = mp.fsum(mp.mpf(a) ** 2 for a in x2) / d
    # the float64 hyper-parameters, exactly as the Rust side holds them
    w2, b2 = mp.mpf(float(w)) ** 2, (mp.mpf(float(b)) ** 2 if b is not None else mp.mpf(0))
    th = mp.mpf(0)
    for layer in range(depth + 1):
        c, q1, q2 = w2 * c + b2, w2 * q1 + b2, w2 * q2 + b2
        th = c + w2 * th
        if layer == depth:
            break
        t, dt = act(c, q1, q2)
        q1n, _ = act(q1, q1, q1)
        q2n, _ = act(q2, q2, q2)
        c, th, q1, q2 = t, th * dt, q1n, q2n
    return c, th


cases = []
for name, act, w, b in [("relu", relu, "1.4142135623730951", None), ("relu", relu, "1.4142135623730951", "0.1"),
                        ("erf", erf, "1.5", "0.1")]:
    for depth in [1000]:
        for angle in ["0.3", "1.5", "3.0", "0.001"]:
            a = mp.mpf(angle)
            # float64 inputs, written exactly; |x|^2/d = 1 up to rounding
            x1 = [float(mp.sqrt(2)), 0.0]
            x2 = [float(mp.sqrt(2) * mp.cos(a)), float(mp.sqrt(2) * mp.sin(a))]
            k, t = kernel(act, depth, w, b, x1, x2)
            kd, td = kernel(act, depth, w, b, x1, x1)
            cases.append({"activation": name, "depth": depth, "w_std": float(w),
                          "b_std": None if b is None else float(b), "x1": x1, "x2": x2,
                          "nngp": float(k), "ntk": float(t), "nngp_11": float(kd), "ntk_11": float(td)})
print(json.dumps({"generator": "gen_deep.py (mpmath, 60 digits)", "cases": cases}, indent=1))
