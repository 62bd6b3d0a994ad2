// Tiny binary payloads for the fixture's image and audio content, built here rather than pasted as
// opaque base64 so that what they contain is plain: a 1x1 red PNG and 10 ms of silent 8 kHz WAV.
import { crc32, deflateSync } from 'node:zlib';

function pngChunk(type, data) {
    const typeAndData = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typeAndData));
    return Buffer.concat([length, typeAndData, crc]);
}

function redPixelPng() {
    const header = Buffer.alloc(13);
    header.writeUInt32BE(1, 0); // width
    header.writeUInt32BE(1, 4); // height
    header[8] = 8; // bit depth
    header[9] = 2; // colour type: RGB
    // compression, filter and interlace methods stay 0
    const scanline = Buffer.from([0, 0xff, 0x00, 0x00]); // filter type 0, then one red pixel
    return Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        pngChunk('IHDR', header),
        pngChunk('IDAT', deflateSync(scanline)),
        pngChunk('IEND', Buffer.alloc(0)),
    ]);
}

function silentWav() {
    const sampleRate = 8000;
    const samples = sampleRate / 100;
    const dataBytes = samples * 2; // 16-bit mono
    const wav = Buffer.alloc(44 + dataBytes);
    wav.write('RIFF', 0, 'ascii');
    wav.writeUInt32LE(36 + dataBytes, 4);
    wav.write('WAVE', 8, 'ascii');
    wav.write('fmt ', 12, 'ascii');
    wav.writeUInt32LE(16, 16); // PCM header size
    wav.writeUInt16LE(1, 20); // PCM
    wav.writeUInt16LE(1, 22); // mono
    wav.writeUInt32LE(sampleRate, 24);
    wav.writeUInt32LE(sampleRate * 2, 28); // byte rate
    wav.writeUInt16LE(2, 32); // block align
    wav.writeUInt16LE(16, 34); // bits per sample
    wav.write('data', 36, 'ascii');
    wav.writeUInt32LE(dataBytes, 40);
    return wav;
}

export const PNG_BASE64 = redPixelPng().toString('base64');
export const WAV_BASE64 = silentWav().toString('base64');
