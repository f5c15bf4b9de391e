// An SQLite VFS shim for storage-fault tests: it wraps the default VFS and, once armed, fails
// writes (and syncs) the way a full or failing disk does: the Nth write from now, once or from
// then on. Installed as the process's default VFS, so every connection the code under test
// opens goes through it; the files on disk are real.
//
//   test::FaultVfs::install();
//   test::FaultVfs::fail_after(0, SQLITE_FULL, /*persistent=*/true);   // the next write on
//   ...                                                                 // fails, and all after
//   test::FaultVfs::heal();
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstring>

namespace vitalsd::test {

class FaultVfs {
 public:
  static void install() {
    static bool done = false;
    if (done) return;
    done = true;
    base_ = sqlite3_vfs_find(nullptr);
    vfs_ = *base_;
    vfs_.zName = "vitalsd-fault";
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + base_->szOsFile;
    vfs_.xOpen = &open;
    vfs_.pNext = nullptr;
    sqlite3_vfs_register(&vfs_, 1);
  }
  // The write `n` writes from now fails with `code` (SQLITE_FULL, SQLITE_IOERR_WRITE, ...);
  // with `persistent`, every one after it too, until heal().
  static void fail_after(int n, int code, bool persistent) {
    code_.store(code);
    persistent_.store(persistent);
    countdown_.store(n);
  }
  static void heal() {
    countdown_.store(-1);
    persistent_.store(false);
  }
  static int failures() { return failures_.load(); }

 private:
  struct File {
    sqlite3_file base;   // pMethods: ours
    sqlite3_file* real;  // the wrapped VFS's file, right after this struct
  };

  static sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }

  // True when this write must fail.
  static bool trip() {
    int n = countdown_.load();
    while (n >= 0) {
      if (n == 0) {
        if (!persistent_.load()) countdown_.store(-1);
        ++failures_;
        return true;
      }
      if (countdown_.compare_exchange_weak(n, n - 1)) return false;
    }
    return false;
  }

  static int open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags,
                  int* out_flags) {
    auto* f = reinterpret_cast<File*>(file);
    f->real = reinterpret_cast<sqlite3_file*>(f + 1);
    std::memset(f->real, 0, static_cast<std::size_t>(base_->szOsFile));
    const int rc = base_->xOpen(base_, name, f->real, flags, out_flags);
    f->base.pMethods =
        (rc == SQLITE_OK && f->real->pMethods) ? methods(f->real->pMethods) : nullptr;
    return rc;
  }

  static const sqlite3_io_methods* methods(const sqlite3_io_methods* real_methods) {
    static sqlite3_io_methods m = [real_methods] {
      sqlite3_io_methods x = *real_methods;
      x.xClose = [](sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); };
      x.xRead = [](sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
        return real(f)->pMethods->xRead(real(f), b, n, o);
      };
      x.xWrite = [](sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
        if (trip()) return code_.load();
        return real(f)->pMethods->xWrite(real(f), b, n, o);
      };
      x.xTruncate = [](sqlite3_file* f, sqlite3_int64 size) {
        return real(f)->pMethods->xTruncate(real(f), size);
      };
      x.xSync = [](sqlite3_file* f, int flags) { return real(f)->pMethods->xSync(real(f), flags); };
      x.xFileSize = [](sqlite3_file* f, sqlite3_int64* size) {
        return real(f)->pMethods->xFileSize(real(f), size);
      };
      x.xLock = [](sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); };
      x.xUnlock = [](sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); };
      x.xCheckReservedLock = [](sqlite3_file* f, int* out) {
        return real(f)->pMethods->xCheckReservedLock(real(f), out);
      };
      x.xFileControl = [](sqlite3_file* f, int op, void* arg) {
        return real(f)->pMethods->xFileControl(real(f), op, arg);
      };
      x.xSectorSize = [](sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); };
      x.xDeviceCharacteristics = [](sqlite3_file* f) {
        return real(f)->pMethods->xDeviceCharacteristics(real(f));
      };
      x.xShmMap = [](sqlite3_file* f, int pg, int sz, int ext, void volatile** p) {
        return real(f)->pMethods->xShmMap(real(f), pg, sz, ext, p);
      };
      x.xShmLock = [](sqlite3_file* f, int off, int n, int flags) {
        return real(f)->pMethods->xShmLock(real(f), off, n, flags);
      };
      x.xShmBarrier = [](sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); };
      x.xShmUnmap = [](sqlite3_file* f, int del) {
        return real(f)->pMethods->xShmUnmap(real(f), del);
      };
      x.xFetch = [](sqlite3_file* f, sqlite3_int64 o, int n, void** p) {
        return real(f)->pMethods->xFetch(real(f), o, n, p);
      };
      x.xUnfetch = [](sqlite3_file* f, sqlite3_int64 o, void* p) {
        return real(f)->pMethods->xUnfetch(real(f), o, p);
      };
      return x;
    }();
    return &m;
  }

  static inline sqlite3_vfs* base_ = nullptr;
  static inline sqlite3_vfs vfs_{};
  static inline std::atomic<int> countdown_{-1};
  static inline std::atomic<int> code_{SQLITE_FULL};
  static inline std::atomic<bool> persistent_{false};
  static inline std::atomic<int> failures_{0};
};

}  // namespace vitalsd::test
