import Foundation
import SlipwayClient
import SlipwayDomain

/// Delivers one job state report to the server, retrying with backoff until the server accepts it or refuses
/// it for good.
///
/// A report the server never received would leave the job `scheduled` or `running` there, holding its node's
/// room, so failures that may pass — the server unreachable, a 5xx answer, a timeout, 429 — are retried after
/// 0.5 s, 1 s, 2 s, … up to 30 s between tries. Any other 4xx answer is the server's last word: 409
/// `stale_report` (the attempt is no longer this node's: cancelled, re-queued, or already ended) or a report
/// it cannot use; trying again would change nothing. Delivery stops early only when its task is cancelled.
public struct StateReportDelivery: Sendable {
    /// Sends one report; throws ``APIClientError`` as the API client does.
    public var send: @Sendable (JobStateReport) async throws -> Void
    /// Waits between tries (a test passes one that records the waits and returns at once).
    public var sleep: @Sendable (Duration) async throws -> Void

    public init(
        send: @escaping @Sendable (JobStateReport) async throws -> Void,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.send = send
        self.sleep = sleep
    }

    /// How a delivery ended.
    public enum Outcome: Sendable, Equatable {
        /// The server took the report, after `failures` failed tries.
        case accepted(failures: Int)
        /// The server refused it for good (status and code of its answer).
        case refused(status: Int, code: String, message: String)
        /// The task was cancelled before the server took it.
        case abandoned
    }

    /// The wait after `failures` failed tries: 0.5 s doubling, at most 30 s.
    public static func backoff(afterFailures failures: Int) -> Duration {
        let exponent = min(max(failures - 1, 0), 10)
        return .milliseconds(min(500 << exponent, 30_000))
    }

    /// Whether an answer means the report will never be accepted, so retrying is pointless.
    public static func isDefinitive(_ error: any Error) -> Bool {
        guard let error = error as? APIClientError else { return false }
        return (400..<500).contains(error.status) && error.status != 408 && error.status != 429
    }

    /// Sends `report` until it is accepted, definitively refused, or the task is cancelled.
    public func deliver(_ report: JobStateReport) async -> Outcome {
        var failures = 0
        while !Task.isCancelled {
            do {
                try await send(report)
                return .accepted(failures: failures)
            } catch {
                if Self.isDefinitive(error), let answer = error as? APIClientError {
                    return .refused(status: answer.status, code: answer.code, message: answer.message)
                }
                failures += 1
                do { try await sleep(Self.backoff(afterFailures: failures)) } catch { return .abandoned }
            }
        }
        return .abandoned
    }
}
