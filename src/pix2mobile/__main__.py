import sys

from pix2mobile.cli import main

sys.exit(main())
