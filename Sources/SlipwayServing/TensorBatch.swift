import Foundation

/// What requests must share to be batched together: their inputs' names, datatypes and shapes past the first
/// (batch) dimension, and the outputs they ask for. Requests with the same signature can be stacked along
/// dimension 0 into one call of the model.
public struct BatchSignature: Sendable, Hashable {
    public var inputs: [String]
    public var outputs: [String]

    /// The signature of `inputs`, and their rows (the shared first dimension); nil when they cannot be stacked (a
    /// scalar, or inputs whose first dimensions differ).
    public static func of(_ inputs: [Tensor], outputs: [String]) -> (signature: BatchSignature, rows: Int)? {
        guard let rows = inputs.first?.shape.first, rows > 0 else { return nil }
        var parts: [String] = []
        for tensor in inputs.sorted(by: { $0.name < $1.name }) {
            guard tensor.shape.count >= 1, tensor.shape[0] == rows else { return nil }
            parts.append("\(tensor.name)|\(tensor.datatype.rawValue)|\(tensor.shape.dropFirst().map(String.init).joined(separator: ","))")
        }
        return (BatchSignature(inputs: parts, outputs: outputs.sorted()), rows)
    }
}

/// Stacks requests' inputs along dimension 0 and cuts a batched answer back into one answer per request.
public enum TensorBatch {
    /// The inputs of several requests of one signature, stacked: each input's rows in request order.
    public static func stack(_ requests: [[Tensor]]) -> [Tensor] {
        guard let first = requests.first else { return [] }
        if requests.count == 1 { return first }
        return first.map { template in
            var raw = Data()
            var rows = 0
            for inputs in requests {
                guard let tensor = inputs.first(where: { $0.name == template.name }) else { continue }
                raw.append(tensor.raw)
                rows += tensor.shape[0]
            }
            var shape = template.shape
            shape[0] = rows
            return Tensor(name: template.name, datatype: template.datatype, shape: shape, raw: raw)
        }
    }

    /// Cuts a batched call's outputs into one set per request, by each request's rows.
    /// - Throws: ``InferenceRequestError`` when an output's first dimension is not the batch's rows, so it cannot be cut.
    public static func split(_ outputs: [Tensor], rows: [Int]) throws -> [[Tensor]] {
        if rows.count == 1 { return [outputs] }
        let total = rows.reduce(0, +)
        var answers = Array(repeating: [Tensor](), count: rows.count)
        for tensor in outputs {
            guard tensor.shape.first == total else {
                throw InferenceRequestError("output '\(tensor.name)' has shape \(tensor.shape), not \(total) rows: it cannot be split into a batch's answers")
            }
            let perRow = tensor.shape.dropFirst().reduce(1, *)
            var offset = tensor.raw.startIndex
            for (index, count) in rows.enumerated() {
                let length: Int
                if let size = tensor.datatype.elementSize {
                    length = count * perRow * size
                } else {
                    length = try bytesElementsLength(tensor.raw, from: offset, elements: count * perRow, name: tensor.name)
                }
                guard offset + length <= tensor.raw.endIndex else {
                    throw InferenceRequestError("output '\(tensor.name)' holds fewer bytes than its shape \(tensor.shape) says")
                }
                var shape = tensor.shape
                shape[0] = count
                answers[index].append(Tensor(name: tensor.name, datatype: tensor.datatype, shape: shape, raw: tensor.raw[offset..<(offset + length)]))
                offset += length
            }
        }
        return answers
    }

    /// The byte length of `elements` BYTES elements (each a u32 length and its bytes) starting at `offset`.
    static func bytesElementsLength(_ raw: Data, from offset: Int, elements: Int, name: String) throws -> Int {
        var position = offset
        for _ in 0..<elements {
            guard position + 4 <= raw.endIndex else { throw InferenceRequestError("output '\(name)': a BYTES element's length is cut off") }
            let length = raw.withUnsafeBytes { buffer in
                Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: position - raw.startIndex, as: UInt32.self)))
            }
            position += 4 + length
        }
        return position - offset
    }
}

/// The gateway's batching rule, as a pure decision over the queue: which waiting requests go to a free replica now,
/// or how long to wait for more.
public enum BatchFormation {
    /// A waiting request as the rule sees it.
    public struct Waiting: Sendable, Hashable {
        public var signature: BatchSignature?
        public var rows: Int
        /// Seconds it has waited.
        public var waited: Double
        public init(signature: BatchSignature?, rows: Int, waited: Double) {
            self.signature = signature
            self.rows = rows
            self.waited = waited
        }
    }

    /// What to do with the queue when a replica is free.
    public enum Decision: Sendable, Hashable {
        /// Send these requests (indices into the queue, in order) as one call.
        case send([Int])
        /// Wait this many more seconds for the batch to fill.
        case wait(Double)
        case nothing
    }

    /// - Parameters:
    ///   - queue: the waiting requests, oldest first.
    ///   - maxBatchSize: the most rows one call carries (1: no batching).
    ///   - maxDelay: seconds the oldest request may wait for others while a replica is free.
    ///   - batchable: whether the model takes a batch dimension (its metadata says `-1` first).
    public static func decide(_ queue: [Waiting], maxBatchSize: Int, maxDelay: Double, batchable: Bool) -> Decision {
        guard let oldest = queue.first else { return .nothing }
        guard batchable, maxBatchSize > 1, let signature = oldest.signature, oldest.rows < maxBatchSize else { return .send([0]) }
        var taken = [0]
        var rows = oldest.rows
        for index in queue.indices.dropFirst() where queue[index].signature == signature && rows + queue[index].rows <= maxBatchSize {
            taken.append(index)
            rows += queue[index].rows
            if rows == maxBatchSize { break }
        }
        if rows >= maxBatchSize || oldest.waited >= maxDelay { return .send(taken) }
        return .wait(maxDelay - oldest.waited)
    }
}
