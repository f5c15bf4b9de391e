// The emulator's serial modes, each in its own file; main() dispatches on the mode's flag.
#pragma once

int masimo_main(int argc, char** argv);  // --masimo: a Masimo pulse oximeter's ASCII lines
int datex_main(int argc, char** argv);   // --datex-s5: a Datex-Ohmeda S/5 computer interface
