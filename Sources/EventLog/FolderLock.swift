import Foundation

/// An exclusive advisory lock on `DIR/writer.lock` (flock): one writing process per data folder.
/// The kernel releases it when the process dies, so a `kill -9` never leaves a stale lock.
final class FolderLock: @unchecked Sendable {
    private var fd: Int32

    init(directory: URL) throws {
        let path = directory.appendingPathComponent("writer.lock").path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw EventLogError(.io, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = FolderLock.readHolder(fd)
            close(fd)
            throw EventLogError(.locked,
                                "the data folder \(directory.path) is held for writing by another process\(holder.map { " (pid \($0))" } ?? ""); stop it first, or use a read-only command")
        }
        let text = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    private static func readHolder(_ fd: Int32) -> String? {
        var buf = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buf, 31, 0)
        guard n > 0 else { return nil }
        let s = String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return s.isEmpty ? nil : s
    }

    func release() {
        if fd >= 0 {
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    deinit { release() }
}
