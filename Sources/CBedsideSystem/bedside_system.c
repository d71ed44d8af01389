#define _GNU_SOURCE
#include "bedside_system.h"
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>

int bedside_set_dumpable(int value) {
    return prctl(PR_SET_DUMPABLE, value, 0, 0, 0);
}

int bedside_get_dumpable(void) {
    return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
}

int bedside_rename_noreplace(const char *from, const char *to) {
    return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}
