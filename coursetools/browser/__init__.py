"""JupyterLab and Voilà in a real Chromium (Debian's, driven by Playwright), for tests, benchmarks and screenshots.

harness            start JupyterLab on a free port, open Chromium, open and run a notebook
fit                does every live output fit a laptop's or a projector's screen
loss_surface_page  the loss-surface explorer's canvas and its ES module, read from the page
voila_server       a notebook served by Voilà, as a dashboard
"""
