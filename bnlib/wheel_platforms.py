"""The platforms a wheelhouse is built for (``python -m bnlib.course wheelhouse``): for each, pip's platform
tags and the environment markers pip should assume when it resolves the course's requirements there.

Data only, standard library only: bnlib/course.py reads it before anything else is installed. Update the
tags here when a new PyTorch release needs newer platforms.
"""

# The platforms a wheelhouse is built for: name -> pip's platform tags and the markers pip should assume.
WHEEL_PLATFORMS = {
    "linux": {
        "folder": "linux-x86_64",
        "tags": [
            "manylinux_2_28_x86_64",
            "manylinux_2_17_x86_64",
            "manylinux2014_x86_64",
            "manylinux1_x86_64",
        ],
        "markers": {
            "os_name": "posix",
            "sys_platform": "linux",
            "platform_system": "Linux",
            "platform_machine": "x86_64",
        },
    },
    "macos": {
        "folder": "macos-arm64",
        "tags": ["macosx_14_0_arm64"],  # torch 2.13 needs macOS 14 on Apple silicon
        "markers": {
            "os_name": "posix",
            "sys_platform": "darwin",
            "platform_system": "Darwin",
            "platform_machine": "arm64",
        },
    },
    "windows": {
        "folder": "windows-amd64",
        "tags": ["win_amd64"],
        "markers": {
            "os_name": "nt",
            "sys_platform": "win32",
            "platform_system": "Windows",
            "platform_machine": "AMD64",
        },
    },
}
