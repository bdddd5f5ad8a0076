import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One job's command, run with `/bin/sh -c` as the leader of a process group of its own (Foundation's
/// `Process` starts children that way), so stopping it stops everything it started. Output goes to a file
/// the agent streams.
final class JobProcess: @unchecked Sendable {
    /// Why a process ended.
    enum Ending: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
    }

    let process = Process()
    private let lock = NSLock()
    private var stopping = false

    /// Starts `command` in `directory` with `environment`, writing stdout and stderr to `log`.
    init(command: String, directory: URL, environment: [String: String], log: URL) throws {
        // Appended to, never truncated: the agent's own lines (environment, code, inputs) are already there.
        let descriptor = open(log.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: log.path]) }
        let output = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = directory
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
    }

    /// Runs until the command ends. - Returns: how it ended.
    func run() async throws -> Ending {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Ending, any Error>) in
            process.terminationHandler = { process in
                continuation.resume(
                    returning: process.terminationReason == .uncaughtSignal
                        ? .signalled(process.terminationStatus) : .exited(process.terminationStatus))
            }
            do {
                try process.run()
                let leader = process.processIdentifier
                let group = getpgid(leader)
                lock.withLock { leaderGroup = group > 0 && group != getpgid(0) ? group : 0 }
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
    }

    var pid: Int32 { process.processIdentifier }

    private var leaderGroup: Int32 = 0

    /// The command's process group (its own pid when it leads one; never the agent's own group), noted at
    /// start so it can still be stopped after the leader exits and leaves children behind. 0 if unknown.
    var group: Int32 { lock.withLock { leaderGroup } }

    /// Stops the whole process group: SIGTERM, then SIGKILL after `grace` if anything is left.
    func stop(grace: Duration = .seconds(3)) async {
        let leader = pid
        guard leader > 0 else { return }
        let group = self.group
        lock.withLock { stopping = true }
        if group > 0 { kill(-group, SIGTERM) }
        kill(leader, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline, group > 0 ? Self.groupMembers(group) > 0 : kill(leader, 0) == 0 {
            try? await Task.sleep(for: .milliseconds(100))
        }
        if group > 0 { kill(-group, SIGKILL) }
        kill(leader, SIGKILL)
    }

    var wasStopped: Bool { lock.withLock { stopping } }

    /// How many live processes belong to process group `group`.
    static func groupMembers(_ group: Int32) -> Int {
        processes(inGroup: group).count
    }

    /// Bytes in a memory page, and clock ticks in a second (the units of /proc's counters).
    static let pageSize = Int64(sysconf(Int32(_SC_PAGESIZE)))
    static let ticksPerSecond = max(1, Int64(sysconf(Int32(_SC_CLK_TCK))))

    /// The resident memory of every process in the group, in bytes (from /proc).
    static func residentBytes(ofGroup group: Int32) -> Int64 {
        processes(inGroup: group).reduce(0) { $0 + $1.rssPages * pageSize }
    }

    /// `(pid, resident pages, user and system CPU ticks)` of each process whose process group is `group`, read from
    /// `/proc/<pid>/stat`.
    static func processes(inGroup group: Int32) -> [(pid: Int32, rssPages: Int64, cpuTicks: Int64)] {
        guard group > 0, let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var found: [(Int32, Int64, Int64)] = []
        for entry in entries {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // After "pid (comm)": state ppid pgrp … ; rss is field 24 overall, the 22nd after the comm.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 21, let pgrp = Int32(fields[2]), pgrp == group, fields[0] != "Z" else { continue }
            // utime and stime are fields 14 and 15 overall: the 12th and 13th after the comm.
            found.append((pid, Int64(fields[21]) ?? 0, (Int64(fields[11]) ?? 0) + (Int64(fields[12]) ?? 0)))
        }
        return found
    }
}
