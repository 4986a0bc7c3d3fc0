"""`footfall-operator`: the kopf operator for CameraChannel resources.

The handlers (children, status, validation) are not built yet; starting a kopf operator with no handlers
would look healthy while doing nothing, so this entry point says so and exits non-zero instead.
"""

import sys

from footfall_operator.crd import GROUP, PLURAL, VERSION


def main() -> int:
    print(
        f"footfall-operator: the {PLURAL}.{GROUP}/{VERSION} handlers are not implemented in this release",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
