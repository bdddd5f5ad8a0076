import Foundation
import SlipwayData
import SlipwayDomain
import Testing

@Suite("Annotation formats: COCO and Pascal VOC")
struct AnnotationFormatTests {
    static let coco = """
        {"info": {"description": "two images"},
         "images": [{"id": 7, "file_name": "train/cat.png", "width": 640, "height": 480},
                    {"id": 9, "file_name": "dog.jpg", "width": 320, "height": 200},
                    {"id": 11, "file_name": "empty.png", "width": 10, "height": 10}],
         "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [12, 30.5, 200, 180], "iscrowd": 0, "area": 36000},
                         {"id": 2, "image_id": 9, "category_id": 1, "bbox": [0, 0, 50, 60]},
                         {"id": 3, "image_id": 7, "category_id": 1, "bbox": [100, 100, 20.25, 10], "iscrowd": 1}],
         "categories": [{"id": 1, "name": "dog", "supercategory": "animal"}, {"id": 3, "name": "cat"}]}
        """

    /// A record stored as `path`, as the CLI would make it from `image`.
    static func record(_ image: AnnotatedImage, digit: Character = "a") -> DatasetRecord {
        image.record(
            file: RecordFile(sha256: String(repeating: digit, count: 64), size: 100, mediaType: "image/png", path: image.fileName))
    }

    @Test func cocoParsesImagesSizesAndBoxesWithClassNames() throws {
        let images = try COCODetection.images(from: Data(Self.coco.utf8))
        #expect(images.map(\.fileName) == ["train/cat.png", "dog.jpg", "empty.png"])
        #expect(images.map(\.recordID) == ["train/cat", "dog", "empty"])
        #expect(images[0].width == 640 && images[0].height == 480)
        #expect(
            images[0].annotations == [
                Annotation(kind: .box, label: "cat", box: BoundingBox(x: 12, y: 30.5, width: 200, height: 180), source: .imported),
                Annotation(kind: .box, label: "dog", box: BoundingBox(x: 100, y: 100, width: 20.25, height: 10), source: .imported),
            ])
        #expect(images[1].annotations.map(\.label) == ["dog"])
        #expect(images[2].annotations.isEmpty)

        let record = Self.record(images[0])
        #expect(record.id == "train/cat")
        #expect(record.fields == ["width": .integer(640), "height": .integer(480)])
        #expect(record.annotations.allSatisfy { $0.source == .imported })
    }

    @Test func cocoRecordsBecomeTheSameCOCODocument() throws {
        let images = try COCODetection.images(from: Data(Self.coco.utf8))
        let records = images.map { Self.record($0) }
        let document = try COCODetection.document(records: records, classes: ["cat", "dog"])

        // Ids are renumbered (images 1…n in record order, categories 1…k in class order); everything else survives.
        let again = try COCODetection.images(from: document)
        #expect(again == images)
        #expect(again.map { Self.record($0) } == records)

        let json = try #require(try JSONSerialization.jsonObject(with: document) as? [String: Any])
        let categories = try #require(json["categories"] as? [[String: Any]])
        #expect(categories.map { $0["name"] as? String } == ["cat", "dog"])
        #expect(categories.map { $0["id"] as? Int } == [1, 2])
        let imageIDs = try #require(json["images"] as? [[String: Any]]).map { $0["id"] as? Int }
        #expect(imageIDs == [1, 2, 3])
        let first = try #require((json["annotations"] as? [[String: Any]])?.first)
        #expect(first["image_id"] as? Int == 1 && first["category_id"] as? Int == 1)
        #expect(first["bbox"] as? [Double] == [12, 30.5, 200, 180])
        #expect(first["area"] as? Double == 36000)

        // Deterministic: the same records give the same bytes, with sorted keys.
        #expect(try COCODetection.document(records: records, classes: ["cat", "dog"]) == document)
        #expect(String(decoding: document, as: UTF8.self).hasPrefix(#"{"annotations":[{"area":"#))
    }

    @Test func cocoDocumentAddsLabelsMissingFromTheClassesAndNeedsFiles() throws {
        let record = DatasetRecord(
            id: "a", file: RecordFile(sha256: String(repeating: "b", count: 64), size: 1, mediaType: "image/png", path: "a.png"),
            annotations: [
                Annotation(kind: .box, label: "zebra", box: BoundingBox(x: 1, y: 2, width: 3, height: 4), source: .imported),
                .imported(label: "striped"),
            ])
        let document = try COCODetection.document(records: [record], classes: ["horse"])
        let images = try COCODetection.images(from: document)
        #expect(images[0].annotations.map(\.label) == ["zebra"], "class annotations are not COCO boxes")
        #expect(images[0].width == nil, "a record without a size gives an image without one")
        let json = try #require(try JSONSerialization.jsonObject(with: document) as? [String: Any])
        #expect((json["categories"] as? [[String: Any]])?.map { $0["name"] as? String } == ["horse", "zebra"])

        #expect(throws: DataImportError.invalid("record 'row-1' has no file: a COCO image needs one")) {
            _ = try COCODetection.document(records: [DatasetRecord(id: "row-1")], classes: [])
        }
    }

    @Test(arguments: [
        (#"{"images": [oops"#, "not a COCO detection file: it is not valid JSON"),
        (#"{"annotations": []}"#, "not a COCO detection file: 'images' is missing"),
        (#"{"images": [{"id": 1}]}"#, "not a COCO detection file: 'images[0].file_name' is missing"),
        (#"{"images": [{"id": "one", "file_name": "a.png"}]}"#, "not a COCO detection file: 'images[0].id' has the wrong type"),
        (
            #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 5, "image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1]}], "categories": [{"id": 1, "name": "cat"}]}"#,
            "annotation 5 names image 2, which is not in images"
        ),
        (
            #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 5, "image_id": 1, "category_id": 4, "bbox": [0, 0, 1, 1]}], "categories": [{"id": 1, "name": "cat"}]}"#,
            "annotation 5 names category 4, which is not in categories"
        ),
        (
            #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1]}], "categories": [{"id": 1, "name": "cat"}]}"#,
            "annotation 5: bbox must be 4 non-negative numbers [x, y, width, height]"
        ),
        (
            #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 1]}], "categories": [{"id": 1, "name": "cat"}]}"#,
            "annotation 5: bbox must be 4 non-negative numbers [x, y, width, height]"
        ),
        (
            #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"image_id": 1, "category_id": 1, "bbox": [0, "0", 1, 1]}], "categories": [{"id": 1, "name": "cat"}]}"#,
            "annotation #1: bbox must be 4 non-negative numbers [x, y, width, height]"
        ),
        (
            #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 5, "image_id": 1, "category_id": 1}], "categories": [{"id": 1, "name": "cat"}]}"#,
            "annotation 5: bbox must be 4 non-negative numbers [x, y, width, height]"
        ),
        (#"{"images": [{"id": 1, "file_name": "a.png"}, {"id": 1, "file_name": "b.png"}]}"#, "two images have the id 1"),
        (#"{"images": [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "a.png"}]}"#, "images 1 and 2 both have the file_name 'a.png'"),
        (#"{"images": [{"id": 1, "file_name": "../a.png"}]}"#, "image 1: file_name '../a.png' leaves the folder (..)"),
        (#"{"images": [{"id": 1, "file_name": "/etc/a.png"}]}"#, "image 1: file_name '/etc/a.png' is absolute"),
        (#"{"images": [{"id": 1, "file_name": "a.png", "width": 10.5}]}"#, "image 1: width must be a whole number of pixels"),
        (#"{"images": [], "categories": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]}"#, "two categories have the id 1"),
    ])
    func malformedCOCOIsRefusedSayingWhat(text: String, message: String) {
        #expect(throws: DataImportError.invalid(message)) { _ = try COCODetection.images(from: Data(text.utf8)) }
    }

    static let voc = """
        <annotation>
            <folder>VOC2007</folder>
            <filename>000005.jpg</filename>
            <source><database>The VOC2007 Database</database></source>
            <size><width>500</width><height>375</height><depth>3</depth></size>
            <segmented>0</segmented>
            <object>
                <name>chair</name><pose>Rear</pose><truncated>0</truncated><difficult>0</difficult>
                <bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax></bndbox>
            </object>
            <object>
                <name>person</name><difficult>1</difficult>
                <bndbox><xmin>10.5</xmin><ymin>20</ymin><xmax>40.75</xmax><ymax>80</ymax></bndbox>
                <part><name>head</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></part>
            </object>
        </annotation>
        """

    @Test func vocParsesFileSizeAndObjectsIgnoringParts() throws {
        let image = try PascalVOC.image(from: Data(Self.voc.utf8))
        #expect(image.fileName == "000005.jpg")
        #expect(image.recordID == "000005")
        #expect(image.width == 500 && image.height == 375)
        #expect(
            image.annotations == [
                Annotation(kind: .box, label: "chair", box: BoundingBox(x: 263, y: 211, width: 61, height: 128), source: .imported),
                Annotation(kind: .box, label: "person", box: BoundingBox(x: 10.5, y: 20, width: 30.25, height: 60), source: .imported),
            ])
    }

    @Test func vocRecordRoundTripsThroughItsXML() throws {
        let image = try PascalVOC.image(from: Data(Self.voc.utf8))
        let record = Self.record(image)
        let xml = try PascalVOC.document(for: record)
        let again = try PascalVOC.image(from: xml)
        #expect(again == image)
        #expect(Self.record(again) == record)
        let text = String(decoding: xml, as: UTF8.self)
        #expect(text.contains("<xmin>263</xmin>") && text.contains("<xmax>40.75</xmax>"), "whole numbers are written without a decimal point")
    }

    @Test func vocEscapesTextItWrites() throws {
        let record = DatasetRecord(
            id: "odd/<&>",
            file: RecordFile(sha256: String(repeating: "c", count: 64), size: 1, mediaType: "image/jpeg", path: "odd/a&b <1>.jpg"),
            fields: ["width": .integer(20), "height": .integer(10)],
            annotations: [
                Annotation(kind: .box, label: #"cat "tom" & 'jerry' <3"#, box: BoundingBox(x: 0, y: 1, width: 2, height: 3), source: .imported)
            ])
        let xml = try PascalVOC.document(for: record)
        let text = String(decoding: xml, as: UTF8.self)
        #expect(text.contains("<filename>odd/a&amp;b &lt;1&gt;.jpg</filename>"))
        #expect(text.contains("<name>cat &quot;tom&quot; &amp; &apos;jerry&apos; &lt;3</name>"))
        let again = try PascalVOC.image(from: xml)
        #expect(again.fileName == "odd/a&b <1>.jpg")
        #expect(again.annotations.map(\.label) == [#"cat "tom" & 'jerry' <3"#])
        #expect(again.width == 20 && again.height == 10)

        var control = record
        control.annotations[0].label = "bell\u{7}"
        #expect(throws: DataImportError.self) { _ = try PascalVOC.document(for: control) }
        #expect(throws: DataImportError.invalid("record 'x' has no file: a VOC annotation needs one")) {
            _ = try PascalVOC.document(for: DatasetRecord(id: "x"))
        }
    }

    static func vocObject(_ box: String, name: String = "<name>cat</name>") -> String {
        "<annotation><filename>a.jpg</filename><object>\(name)\(box)</object></annotation>"
    }

    @Test(arguments: [
        ("<annotation><filename>a.jpg</filename>", "not a Pascal VOC annotation: the XML ends before </annotation>"),
        ("<annotation><filename>a.jpg</filename></annotaton>", "not a Pascal VOC annotation: the XML is malformed near line 1"),
        ("", "not a Pascal VOC annotation: the XML is empty"),
        ("<annotation>\n<filename>a.jpg</filename>\n</annotation", "not a Pascal VOC annotation: the XML is malformed near line 3"),
        ("<annotation><filename>a &nbsp; b.jpg</filename></annotation>", "not a Pascal VOC annotation: the XML is malformed near line 1"),
        ("<voc><filename>a.jpg</filename></voc>", "not a Pascal VOC annotation: the root element is <voc>, not <annotation>"),
        ("<annotation><size><width>1</width></size></annotation>", "the annotation has no <filename>"),
        ("<annotation><filename>../a.jpg</filename></annotation>", "<filename> '../a.jpg' leaves the folder (..)"),
        (
            "<annotation><filename>a.jpg</filename><size><width>wide</width></size></annotation>",
            "<size><width> is 'wide', not a whole number of pixels"
        ),
        (
            vocObject("<bndbox><xmin>30</xmin><ymin>0</ymin><xmax>20</xmax><ymax>5</ymax></bndbox>"),
            "object 1 (cat): xmax (20) is less than xmin (30)"
        ),
        (
            vocObject("<bndbox><xmin>0</xmin><ymin>9.5</ymin><xmax>20</xmax><ymax>5</ymax></bndbox>"),
            "object 1 (cat): ymax (5) is less than ymin (9.5)"
        ),
        (vocObject("<bndbox><xmin>0</xmin><ymin>0</ymin><xmax>2</xmax></bndbox>"), "object 1 (cat): <bndbox> has no <ymax>"),
        (vocObject("<bndbox><xmin>zero</xmin><ymin>0</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>"), "object 1 (cat): <xmin> is 'zero', not a number"),
        (vocObject("", name: "<name>cat</name>"), "object 1 (cat): <bndbox> has no <xmin>"),
        (vocObject("<bndbox><xmin>0</xmin><ymin>0</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>", name: ""), "object 1 has no <name>"),
    ])
    func malformedVOCIsRefusedSayingWhat(text: String, message: String) {
        #expect(throws: DataImportError.invalid(message)) { _ = try PascalVOC.image(from: Data(text.utf8)) }
    }
}
