"""Forecast monthly airline passengers from the previous 12 months (many-to-one regression).

    python examples/airline_forecast.py [--quick]

Needs airline_passengers.csv in $RNNKIT_DATA (or pass its path as the first argument).
"""
import sys

import numpy as np

import rnnkit
from rnnkit.datasets.corpora import load_airline_passengers, make_windows
from rnnkit.keras.layers import LSTM, Dense, Input
from rnnkit.keras.models import Sequential
from rnnkit.optimizers import Adam

quick = "--quick" in sys.argv
args = [a for a in sys.argv[1:] if not a.startswith("--")]
rnnkit.set_seed(0)
counts, dates = load_airline_passengers(args[0] if args else None)
scale = counts[:-24].max()                       # scale with training data only
x, y = make_windows(counts / scale, window=12)
split = len(x) - 24                              # the last two years are the test set
model = Sequential([Input(shape=(12, 1)), LSTM(32), Dense(1)])
model.compile(optimizer=Adam(0.01), loss="mse", metrics=["mae"])
model.fit(x[:split], y[:split], epochs=5 if quick else 200, batch_size=16, verbose=0)
pred = model.predict(x[split:]).reshape(-1) * scale
true = y[split:].reshape(-1) * scale
naive = x[split:, -1, 0] * scale                 # "same as last month"
print(f"test MAE: {np.mean(np.abs(pred - true)):.1f} thousand passengers "
      f"(repeat-last-month baseline: {np.mean(np.abs(naive - true)):.1f})")
for d, p, t in list(zip(dates[-24:], pred, true))[-6:]:
    print(f"{d}  predicted {p:6.1f}  actual {t:6.1f}")
