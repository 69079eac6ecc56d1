def gradient_descent(X, y, lr=0.01, epochs=1000):
    X = [list(map(float, row)) for row in X]
    y = [float(v) for v in y]
    n, d = len(X), len(X[0])
    w = [0.0] * d
    b = 0.0
    for _ in range(epochs):
        r = [sum(X[i][j] * w[j] for j in range(d)) + b - y[i] for i in range(n)]
        grad_w = [2.0 / n * sum(X[i][j] * r[i] for i in range(n)) for j in range(d)]
        grad_b = 2.0 / n * sum(r)
        w = [w[j] - lr * grad_w[j] for j in range(d)]
        b -= lr * grad_b
    return w, b
