from cuas.cli import main

raise SystemExit(main())
