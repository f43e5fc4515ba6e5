from synchub.cli import main

main()
