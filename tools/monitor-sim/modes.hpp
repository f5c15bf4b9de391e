// The emulator's serial modes, each in its own file; main() dispatches on the mode's flag.
#pragma once

int masimo_main(int argc, char** argv);  // --masimo: a Masimo pulse oximeter's ASCII lines
