"""See inside recurrent networks: gates and states per step, gradient flow, explained predictions.

- :func:`trace`: every gate and state of every recurrent layer at every step;
- :func:`gradient_norms`, :func:`jacobian_norms`: gradient flow through time;
- :func:`explain`: running prediction, integrated-gradients attributions and gate
  heatmaps for a sentiment model, as a dict, an HTML page or a PNG.
"""
from __future__ import annotations

from .explain import explain, integrated_gradients, running_predictions
from .gradients import gradient_norms, jacobian_norms
from .report import save_report, to_html, to_png
from .trace import trace

__all__ = ["trace", "gradient_norms", "jacobian_norms", "explain", "integrated_gradients",
           "running_predictions", "save_report", "to_html", "to_png"]
