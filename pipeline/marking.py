"""What says an animation is synthetic: the words, the XMP packet and the EXIF block every output carries.

XMP carries IPTC's DigitalSourceType `compositeSynthetic`; EXIF an ImageDescription and Software tag
saying what made it (GIF, which has neither, gets a comment with the description).
"""

from __future__ import annotations

from PIL import Image

SOFTWARE = "In the wink of an eye"
DESCRIPTION = (
    "Synthetic animation made by 'In the wink of an eye' from a still photo: the face's motion never happened."
)
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic"


def xmp_packet() -> bytes:
    """An XMP packet declaring the image a synthetic composite (IPTC Extension DigitalSourceType)."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/">\n'
        f"   <Iptc4xmpExt:DigitalSourceType>{DIGITAL_SOURCE_TYPE}</Iptc4xmpExt:DigitalSourceType>\n"
        f"   <xmp:CreatorTool>{SOFTWARE}</xmp:CreatorTool>\n"
        '   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">'
        f"{DESCRIPTION}</rdf:li></rdf:Alt></dc:description>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="r"?>'
    ).encode()


def exif_block() -> bytes:
    """TIFF-structured EXIF (without the "Exif\\0\\0" prefix) with ImageDescription and Software."""
    exif = Image.Exif()
    exif[0x010E] = DESCRIPTION
    exif[0x0131] = SOFTWARE
    data = exif.tobytes()
    return data[6:] if data.startswith(b"Exif\x00\x00") else data
