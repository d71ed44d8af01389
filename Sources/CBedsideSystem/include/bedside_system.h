// Linux calls Swift cannot reach through Glibc's module: prctl is variadic and lives in sys/prctl.h.
#ifndef BEDSIDE_SYSTEM_H
#define BEDSIDE_SYSTEM_H

/// prctl(PR_SET_DUMPABLE, value); 0 on success.
int bedside_set_dumpable(int value);

/// prctl(PR_GET_DUMPABLE); 1 when dumpable, 0 when not, -1 on error.
int bedside_get_dumpable(void);

/// renameat2(from, to, RENAME_NOREPLACE): moves a file into place only when nothing has that name yet
/// (EEXIST otherwise), for file systems without hard links; 0 on success, -1 with errno.
int bedside_rename_noreplace(const char *from, const char *to);

#endif
