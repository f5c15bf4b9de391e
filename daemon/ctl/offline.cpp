#include "ctl/offline.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "store/audit.hpp"
#include "store/sqlite.hpp"

namespace vitalsd::ctl {

std::optional<std::string> write_whole(const std::string& path, const std::string& content) {
  if (path.empty() || path == "-") {
    if (std::fwrite(content.data(), 1, content.size(), stdout) != content.size() ||
        std::fflush(stdout) != 0)
      return std::string("cannot write to standard output: ") + std::strerror(errno);
    return std::nullopt;
  }
  const std::filesystem::path target(path);
  std::error_code ec;
  if (std::filesystem::is_directory(target, ec)) return path + " is a directory";
  auto dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::string tmp = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return fmt::format("cannot write {}: {}", path, std::strerror(errno));
  // Any failure: the temporary file goes, the target is left as it was.
  auto fail = [&](bool close_fd) {
    const int err = errno;
    if (close_fd) ::close(fd);
    ::unlink(tmp.c_str());
    return fmt::format("cannot write {}: {}", path, std::strerror(err));
  };
  std::size_t done = 0;
  while (done < content.size()) {
    const auto n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(true);
    done += static_cast<std::size_t>(n);
  }
  // mkstemp's mode 0600 stays: exports and reports hold patient references.
  if (::fsync(fd) != 0) return fail(true);
  if (::close(fd) != 0) return fail(false);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(false);
  return std::nullopt;
}

int audit_verify(const VerifyArgs& args) {
  store::audit::Options o;
  o.check_tables = !args.chain_only;
  for (const auto& text : args.anchors) {
    auto a = store::audit::parse_anchor(text);
    if (!a) {
      fmt::print(stderr, "vitalsctl: --anchor {}: expected SEQ:HASH (64 hex digits)\n", text);
      return kUsage;
    }
    o.anchors.push_back(*a);
  }
  if (!args.anchors_file.empty()) {
    std::string err;
    auto more = store::audit::read_anchors(args.anchors_file, err);
    if (!more) {
      fmt::print(stderr, "vitalsctl: --anchors: {}\n", err);
      return kUsage;
    }
    o.anchors.insert(o.anchors.end(), more->begin(), more->end());
  }
  const bool show_progress = !args.quiet && !args.json && ::isatty(STDERR_FILENO);
  if (show_progress)
    o.progress = [](std::int64_t done, std::int64_t total) {
      fmt::print(stderr, "\rverifying: {} / {} events", done, total);
    };
  store::audit::Result r;
  try {
    if (!std::filesystem::is_regular_file(args.db)) {
      fmt::print(stderr, "vitalsctl: {}: no such database file\n", args.db);
      return kUnreachable;
    }
    store::Db db(args.db, store::Db::Mode::read_only);
    db.exec("PRAGMA query_only = 1");
    r = store::audit::verify(db, o);
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  if (show_progress) fmt::print(stderr, "\r\033[K");
  if (args.json) {
    fmt::print("{}\n", store::audit::to_json(r).dump());
  } else if (!r.error.empty()) {
    fmt::print(stderr, "vitalsctl: {}\n", r.error);
  } else {
    fmt::print("{}", store::audit::summary(r));
  }
  if (!r.error.empty()) return kUnreachable;
  return r.ok() ? kOk : kRefused;
}

}  // namespace vitalsd::ctl
