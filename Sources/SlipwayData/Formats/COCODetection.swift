import Foundation
import SlipwayDomain

/// COCO object detection annotations (`instances_*.json`): `images`, `annotations` with `bbox`
/// `[x, y, width, height]` in pixels from the top-left corner, and `categories`. Segmentations, keypoints and
/// captions are not read; `iscrowd` boxes are kept as boxes.
public enum COCODetection {
    /// The images of a COCO document, in the document's order, each with its boxes.
    /// - Throws: ``DataImportError`` when the JSON is malformed, an annotation names an unknown image or
    ///   category, a bbox is not 4 non-negative numbers, or two images share an id or a file name.
    public static func images(from data: Data) throws -> [AnnotatedImage] {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: data)
        } catch {
            throw DataImportError.invalid("not a COCO detection file: \((error as? DecodingError).map(describe) ?? "it is not valid JSON")")
        }

        var images: [AnnotatedImage] = []
        var indexByID: [Int: Int] = [:]
        var idByFileName: [String: Int] = [:]
        for image in document.images {
            guard indexByID[image.id] == nil else { throw DataImportError.invalid("two images have the id \(image.id)") }
            if let problem = AnnotatedImage.pathProblem(image.fileName) {
                throw DataImportError.invalid("image \(image.id): file_name '\(image.fileName)' \(problem)")
            }
            if let other = idByFileName[image.fileName] {
                throw DataImportError.invalid("images \(other) and \(image.id) both have the file_name '\(image.fileName)'")
            }
            indexByID[image.id] = images.count
            idByFileName[image.fileName] = image.id
            images.append(
                AnnotatedImage(
                    fileName: image.fileName, width: try size(image.width, "width", of: image.id),
                    height: try size(image.height, "height", of: image.id)))
        }

        var names: [Int: String] = [:]
        for category in document.categories ?? [] {
            guard names[category.id] == nil else { throw DataImportError.invalid("two categories have the id \(category.id)") }
            guard !category.name.isEmpty else { throw DataImportError.invalid("category \(category.id) has an empty name") }
            names[category.id] = category.name
        }

        for (position, annotation) in (document.annotations ?? []).enumerated() {
            let name = annotation.id.map { "annotation \($0)" } ?? "annotation #\(position + 1)"
            guard let index = indexByID[annotation.imageID] else {
                throw DataImportError.invalid("\(name) names image \(annotation.imageID), which is not in images")
            }
            guard let label = names[annotation.categoryID] else {
                throw DataImportError.invalid("\(name) names category \(annotation.categoryID), which is not in categories")
            }
            guard let values = annotation.bbox?.values, values.count == 4, values.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw DataImportError.invalid("\(name): bbox must be 4 non-negative numbers [x, y, width, height]")
            }
            images[index].annotations.append(
                Annotation(
                    kind: .box, label: label, box: BoundingBox(x: values[0], y: values[1], width: values[2], height: values[3]),
                    source: .imported))
        }
        return images
    }

    /// A COCO detection document describing `records`: image ids 1…n in record order, category ids 1…k in the
    /// order of `classes` (labels of boxes not among them follow, in order of appearance), a box annotation per
    /// `box` annotation, `width`/`height` from the records' fields and `file_name` from their files' paths.
    /// Keys are sorted, so the same records always give the same bytes.
    /// - Throws: ``DataImportError`` when a record has no file.
    public static func document(records: [DatasetRecord], classes: [String]) throws -> Data {
        var categoryIDs: [String: Int] = [:]
        var categories: [Category] = []
        func categoryID(_ name: String) -> Int {
            if let id = categoryIDs[name] { return id }
            categories.append(Category(id: categories.count + 1, name: name))
            categoryIDs[name] = categories.count
            return categories.count
        }
        for name in classes { _ = categoryID(name) }

        var images: [Image] = []
        var annotations: [Entry] = []
        for (index, record) in records.enumerated() {
            guard let file = record.file else { throw DataImportError.invalid("record '\(record.id)' has no file: a COCO image needs one") }
            let id = index + 1
            images.append(Image(id: id, fileName: file.path, width: integer(record.fields["width"]), height: integer(record.fields["height"])))
            for annotation in record.annotations where annotation.kind == .box {
                guard let box = annotation.box, let label = annotation.label else { continue }
                annotations.append(
                    Entry(
                        id: annotations.count + 1, imageID: id, categoryID: categoryID(label),
                        bbox: Coordinates(values: [box.x, box.y, box.width, box.height]), iscrowd: 0, area: box.width * box.height))
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(Document(images: images, annotations: annotations, categories: categories))
    }

    // MARK: - The document

    private struct Document: Codable {
        var images: [Image]
        var annotations: [Entry]?
        var categories: [Category]?
    }

    private struct Image: Codable {
        var id: Int
        var fileName: String
        var width: Double?
        var height: Double?

        enum CodingKeys: String, CodingKey {
            case id
            case fileName = "file_name"
            case width
            case height
        }

        init(id: Int, fileName: String, width: Int?, height: Int?) {
            self.id = id
            self.fileName = fileName
            self.width = width.map(Double.init)
            self.height = height.map(Double.init)
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(fileName, forKey: .fileName)
            try container.encodeIfPresent(width.map { Int($0) }, forKey: .width)
            try container.encodeIfPresent(height.map { Int($0) }, forKey: .height)
        }
    }

    private struct Entry: Codable {
        var id: Int?
        var imageID: Int
        var categoryID: Int
        var bbox: Coordinates?
        var iscrowd: Int?
        var area: Double?

        enum CodingKeys: String, CodingKey {
            case id
            case imageID = "image_id"
            case categoryID = "category_id"
            case bbox
            case iscrowd
            case area
        }

        init(id: Int?, imageID: Int, categoryID: Int, bbox: Coordinates?, iscrowd: Int?, area: Double?) {
            self.id = id
            self.imageID = imageID
            self.categoryID = categoryID
            self.bbox = bbox
            self.iscrowd = iscrowd
            self.area = area
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decodeIfPresent(Int.self, forKey: .id)
            imageID = try container.decode(Int.self, forKey: .imageID)
            categoryID = try container.decode(Int.self, forKey: .categoryID)
            bbox = try container.decodeIfPresent(Coordinates.self, forKey: .bbox)
            // `iscrowd` and `area` are not kept: a box's area follows from its size.
        }
    }

    private struct Category: Codable {
        var id: Int
        var name: String
    }

    /// A bbox's numbers, or `nil` when it holds something else (checked with a clear message, not a decoding error).
    private struct Coordinates: Codable {
        var values: [Double]?

        init(values: [Double]) { self.values = values }

        init(from decoder: any Decoder) throws {
            values = try? decoder.singleValueContainer().decode([Double].self)
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(values ?? [])
        }
    }

    private static func size(_ value: Double?, _ name: String, of image: Int) throws -> Int? {
        guard let value else { return nil }
        guard value >= 0, value == value.rounded(), value < Double(Int32.max) else {
            throw DataImportError.invalid("image \(image): \(name) must be a whole number of pixels")
        }
        return Int(value)
    }

    private static func integer(_ value: JSONValue?) -> Int? {
        guard let number = value?.doubleValue, number.isFinite, number >= 0, number < Double(Int32.max) else { return nil }
        return Int(number)
    }

    /// A decoding error as a sentence naming where it is (`images[2].file_name is missing`).
    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.reduce(into: "") { text, key in
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context.codingPath)
            return "'\(parent.isEmpty ? key.stringValue : parent + "." + key.stringValue)' is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "'\(path(context.codingPath))' has the wrong type"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "it is not valid JSON" : "'\(path(context.codingPath))' is not valid"
        @unknown default:
            return "\(error)"
        }
    }
}
