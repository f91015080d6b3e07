from tanggap.cli import main

main()
