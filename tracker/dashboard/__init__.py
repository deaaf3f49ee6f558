"""Leadership dashboards (school and district), drawn with Plotly from ``tracker.stats``."""
