import Foundation
import SlipwayServing
import Testing

/// Stacking requests into one call and cutting the answer back, and the rule that decides when a batch goes.
@Suite("Tensor batches")
struct TensorBatchTests {
    static func floats(_ name: String, _ rows: [[Float]]) -> Tensor {
        var raw = Data()
        for row in rows { for value in row { withUnsafeBytes(of: value.bitPattern.littleEndian) { raw.append(contentsOf: $0) } } }
        return Tensor(name: name, datatype: .fp32, shape: [rows.count, rows.first?.count ?? 0], raw: raw)
    }

    static func strings(_ name: String, _ values: [String]) -> Tensor {
        var raw = Data()
        for value in values {
            withUnsafeBytes(of: UInt32(value.utf8.count).littleEndian) { raw.append(contentsOf: $0) }
            raw.append(contentsOf: Array(value.utf8))
        }
        return Tensor(name: name, datatype: .bytes, shape: [values.count], raw: raw)
    }

    @Test func requestsStackAlongTheFirstDimensionAndAnswersSplitBackByRows() throws {
        let a = [Self.floats("x", [[1, 2], [3, 4]])]
        let b = [Self.floats("x", [[5, 6]])]
        let stacked = TensorBatch.stack([a, b])
        #expect(stacked.count == 1)
        #expect(stacked[0].shape == [3, 2])
        #expect(stacked[0].raw == a[0].raw + b[0].raw)

        // The model answers three rows of numbers and three strings of different lengths.
        let answer = [Self.floats("score", [[0.5], [0.25], [1]]), Self.strings("label", ["cat", "", "zebra"])]
        let split = try TensorBatch.split(answer, rows: [2, 1])
        #expect(split.count == 2)
        #expect(split[0].map(\.shape) == [[2, 1], [2]])
        #expect(split[1].map(\.shape) == [[1, 1], [1]])
        #expect(split[0][0].raw == Self.floats("score", [[0.5], [0.25]]).raw)
        #expect(split[0][1].raw == Self.strings("label", ["cat", ""]).raw)
        #expect(split[1][1].raw == Self.strings("label", ["zebra"]).raw)
    }

    @Test func anAnswerWhoseRowsDoNotMatchTheBatchCannotBeSplit() {
        let answer = [Self.floats("summary", [[1, 2, 3]])]
        #expect(throws: InferenceRequestError.self) { try TensorBatch.split(answer, rows: [2, 1]) }
    }

    @Test func onlyRequestsOfTheSameSignatureShareABatch() throws {
        let (one, rows) = try #require(BatchSignature.of([Self.floats("x", [[1, 2]])], outputs: []))
        #expect(rows == 1)
        let (other, _) = try #require(BatchSignature.of([Self.floats("x", [[1, 2, 3]])], outputs: []))
        #expect(one != other, "a different row width is another signature")
        let (asked, _) = try #require(BatchSignature.of([Self.floats("x", [[1, 2]])], outputs: ["score"]))
        #expect(one != asked, "asking for other outputs is another signature")
        // Inputs whose first dimensions differ cannot be stacked at all.
        #expect(BatchSignature.of([Self.floats("x", [[1], [2]]), Self.floats("y", [[1]])], outputs: []) == nil)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var queue: [(rows: Int, waited: Double, other: Bool)]
        var maxBatch: Int
        var maxDelay: Double
        var batchable: Bool
        var expected: BatchFormation.Decision
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "empty queue", queue: [], maxBatch: 8, maxDelay: 0, batchable: true, expected: .nothing),
        Case(
            name: "no delay sends what is there", queue: [(1, 0, false), (1, 0, false)], maxBatch: 8, maxDelay: 0, batchable: true,
            expected: .send([0, 1])),
        Case(name: "a full batch goes at once", queue: [(4, 0, false), (4, 0, false), (1, 0, false)], maxBatch: 8, maxDelay: 1, batchable: true,
            expected: .send([0, 1])),
        Case(name: "waits for more within the delay", queue: [(1, 0.0002, false)], maxBatch: 8, maxDelay: 0.001, batchable: true,
            expected: .wait(0.0008)),
        Case(name: "the delay over, sends what is there", queue: [(1, 0.002, false), (2, 0, false)], maxBatch: 8, maxDelay: 0.001,
            batchable: true, expected: .send([0, 1])),
        Case(name: "other signatures are skipped, not blocked", queue: [(1, 0, false), (1, 0, true), (1, 0, false)], maxBatch: 8,
            maxDelay: 0, batchable: true, expected: .send([0, 2])),
        Case(name: "a model without a batch dimension gets one request at a time", queue: [(1, 0, false), (1, 0, false)], maxBatch: 8,
            maxDelay: 1, batchable: false, expected: .send([0])),
        Case(name: "batching off", queue: [(1, 0, false), (1, 0, false)], maxBatch: 1, maxDelay: 1, batchable: true, expected: .send([0])),
    ]

    @Test(arguments: cases)
    func batchesFormAsTheRuleSays(_ example: Case) throws {
        let (a, _) = try #require(BatchSignature.of([Self.floats("x", [[1]])], outputs: []))
        let (b, _) = try #require(BatchSignature.of([Self.floats("y", [[1]])], outputs: []))
        let queue = example.queue.map { BatchFormation.Waiting(signature: $0.other ? b : a, rows: $0.rows, waited: $0.waited) }
        let decision = BatchFormation.decide(queue, maxBatchSize: example.maxBatch, maxDelay: example.maxDelay, batchable: example.batchable)
        if case .wait(let seconds) = decision, case .wait(let wanted) = example.expected {
            #expect(abs(seconds - wanted) < 1e-9)
        } else {
            #expect(decision == example.expected)
        }
    }
}
