import Foundation

/// A transfer progress bar on standard error: redrawn in place on a terminal, a single summary line otherwise.
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private let total: Int64
    private let interactive = isatty(STDERR_FILENO) == 1
    private let started = Date()
    private let lock = NSLock()
    private var lastDraw = Date.distantPast
    private var done: Int64 = 0

    init(label: String, total: Int64) {
        self.label = label
        self.total = max(total, 0)
    }

    /// Records that `bytes` have been transferred in all.
    func update(_ bytes: Int64) {
        lock.lock()
        defer { lock.unlock() }
        done = bytes
        guard interactive, Date().timeIntervalSince(lastDraw) > 0.1 || bytes >= total else { return }
        lastDraw = Date()
        draw(final: false)
    }

    /// Ends the bar with a summary of size and speed.
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        draw(final: true)
    }

    private func draw(final: Bool) {
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let width = 30
        let filled = Int(fraction * Double(width))
        let seconds = max(Date().timeIntervalSince(started), 0.001)
        let rate = Self.bytes(Int64(Double(done) / seconds)) + "/s"
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        // Without a known total (a streamed download) only the bytes so far and the speed are shown.
        let text =
            total > 0
            ? "\(label) \(bar) \(Int(fraction * 100))% \(Self.bytes(done))/\(Self.bytes(total)) \(rate)"
            : "\(label) \(Self.bytes(done)) \(rate)"
        if interactive {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + text + (final ? "\n" : "")).utf8))
        } else if final {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    /// `12.3 MiB`.
    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }
}
