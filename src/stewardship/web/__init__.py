"""The web shell: app factory, layout, home, sign-in, dashboards and account pages."""
