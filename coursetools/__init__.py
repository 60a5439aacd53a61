"""The tools that build, check and measure the course, shared by tests/, benchmarks/ and the Makefile.

Not part of the bnlib package learners install: run them from the project folder, which puts this package on
the import path (``python -m coursetools.build_site``, ``make site``; pytest adds the folder itself).

    paths            where things are in the project
    notebook_runner  a notebook executed headless as Restart & Run All; which notebooks hold live figures
    browser/         JupyterLab or Voilà in Debian's Chromium, driven by Playwright
    make_student     the learners' exercises made from the teacher's (``make student``)
    build_site       the static HTML gallery and the teachers' answer key (``make site``, ``make answer-key``)
    screenshots      the README's pictures of live panels (``make screenshots``)
"""
