//go:build !purego

#include "textflag.h"

// AVX-512 forms of hash9, hash5, rowFold and rowFinish (digest.go), eight
// values at a time in the 64-bit lanes of a ZMM register. Each computes
// exactly the scalar function in every lane; digest_amd64_test.go checks
// them against it. n is a multiple of 8; the Go wrappers do the rest.

#define PRIME1 $0x9E3779B185EBCA87
#define PRIME2 $0xC2B2AE3D27D4EB4F
#define PRIME3 $0x165667B19E3779F9
#define PRIME4 $0x85EBCA77C2B2AE63
#define PRIME5 $0x27D4EB2F165667C5

// Byte shuffles that turn a lane's value v into the message's first word
// without its tag byte: for hash9 the bytes 0, v7, v6, ..., v1 (v
// big-endian after the tag), for hash5 the bytes 0, v3, v2, v1. An index
// with its top bit set writes a zero; VPSHUFB works within 128-bit lanes,
// hence the second quadword's indexes start at 8.
DATA shuf9<>+0x00(SB)/8, $0x0102030405060780
DATA shuf9<>+0x08(SB)/8, $0x090a0b0c0d0e0f80
DATA shuf9<>+0x10(SB)/8, $0x0102030405060780
DATA shuf9<>+0x18(SB)/8, $0x090a0b0c0d0e0f80
DATA shuf9<>+0x20(SB)/8, $0x0102030405060780
DATA shuf9<>+0x28(SB)/8, $0x090a0b0c0d0e0f80
DATA shuf9<>+0x30(SB)/8, $0x0102030405060780
DATA shuf9<>+0x38(SB)/8, $0x090a0b0c0d0e0f80
GLOBL shuf9<>(SB), RODATA|NOPTR, $64

DATA shuf5<>+0x00(SB)/8, $0x8080808001020380
DATA shuf5<>+0x08(SB)/8, $0x80808080090a0b80
DATA shuf5<>+0x10(SB)/8, $0x8080808001020380
DATA shuf5<>+0x18(SB)/8, $0x80808080090a0b80
DATA shuf5<>+0x20(SB)/8, $0x8080808001020380
DATA shuf5<>+0x28(SB)/8, $0x80808080090a0b80
DATA shuf5<>+0x30(SB)/8, $0x8080808001020380
DATA shuf5<>+0x38(SB)/8, $0x80808080090a0b80
GLOBL shuf5<>(SB), RODATA|NOPTR, $64

// AVALANCHE is xxAvalanche of reg, with prime2 in p2 and prime3 in p3;
// tmp is clobbered.
#define AVALANCHE(reg, tmp, p2, p3) \
	VPSRLQ  $33, reg, tmp \
	VPXORQ  tmp, reg, reg \
	VPMULLQ p2, reg, reg  \
	VPSRLQ  $29, reg, tmp \
	VPXORQ  tmp, reg, reg \
	VPMULLQ p3, reg, reg  \
	VPSRLQ  $32, reg, tmp \
	VPXORQ  tmp, reg, reg

// func hash9x8(dst, src *uint64, n int, tag uint64, signed32 bool)
// dst[i] = hash9(tag, src[i]); with signed32, src holds int32 values
// that are sign-extended first.
TEXT ·hash9x8(SB), NOSPLIT, $0-33
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ PRIME1, AX
	VPBROADCASTQ AX, Z28
	MOVQ PRIME2, AX
	VPBROADCASTQ AX, Z29
	MOVQ PRIME3, AX
	VPBROADCASTQ AX, Z27
	MOVQ PRIME4, AX
	VPBROADCASTQ AX, Z30
	MOVQ PRIME5, AX
	VPBROADCASTQ AX, Z31
	ADDQ $9, AX
	VPBROADCASTQ AX, Z26 // the seed: prime5 + length
	MOVQ tag+24(FP), AX
	VPBROADCASTQ AX, Z25
	MOVQ $0xff, AX
	VPBROADCASTQ AX, Z23
	VMOVDQU64 shuf9<>(SB), Z24
	MOVBLZX signed32+32(FP), BX
	SHRQ $3, CX
	JZ   done9

loop9:
	TESTQ BX, BX
	JNZ  load32
	VMOVDQU64 (SI), Z0
	ADDQ $64, SI
	JMP  loaded

load32:
	VPMOVSXDQ (SI), Z0
	ADDQ $32, SI

loaded:
	VPSHUFB Z24, Z0, Z1
	VPORQ   Z25, Z1, Z1  // k = tag | bswap(v)<<8
	VPMULLQ Z29, Z1, Z1
	VPROLQ  $31, Z1, Z1
	VPMULLQ Z28, Z1, Z1  // xxRound(0, k)
	VPXORQ  Z26, Z1, Z1
	VPROLQ  $27, Z1, Z1
	VPMULLQ Z28, Z1, Z1
	VPADDQ  Z30, Z1, Z1
	VPANDQ  Z23, Z0, Z2  // the last message byte: v's lowest
	VPMULLQ Z31, Z2, Z2
	VPXORQ  Z2, Z1, Z1
	VPROLQ  $11, Z1, Z1
	VPMULLQ Z28, Z1, Z1
	AVALANCHE(Z1, Z2, Z29, Z27)
	VMOVDQU64 Z1, (DI)
	ADDQ $64, DI
	DECQ CX
	JNZ  loop9

done9:
	VZEROUPPER
	RET

// func hash5x8(dst *uint64, src *uint32, n int, tag uint64)
// dst[i] = hash5(tag, src[i]).
TEXT ·hash5x8(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ PRIME1, AX
	VPBROADCASTQ AX, Z28
	MOVQ PRIME2, AX
	VPBROADCASTQ AX, Z29
	MOVQ PRIME3, AX
	VPBROADCASTQ AX, Z27
	MOVQ PRIME5, AX
	VPBROADCASTQ AX, Z31
	ADDQ $5, AX
	VPBROADCASTQ AX, Z26
	MOVQ tag+24(FP), AX
	VPBROADCASTQ AX, Z25
	MOVQ $0xff, AX
	VPBROADCASTQ AX, Z23
	VMOVDQU64 shuf5<>(SB), Z24
	SHRQ $3, CX
	JZ   done5

loop5:
	VPMOVZXDQ (SI), Z0
	VPSHUFB Z24, Z0, Z1
	VPORQ   Z25, Z1, Z1  // the first four message bytes
	VPMULLQ Z28, Z1, Z1
	VPXORQ  Z26, Z1, Z1
	VPROLQ  $23, Z1, Z1
	VPMULLQ Z29, Z1, Z1
	VPADDQ  Z27, Z1, Z1
	VPANDQ  Z23, Z0, Z2
	VPMULLQ Z31, Z2, Z2
	VPXORQ  Z2, Z1, Z1
	VPROLQ  $11, Z1, Z1
	VPMULLQ Z28, Z1, Z1
	AVALANCHE(Z1, Z2, Z29, Z27)
	VMOVDQU64 Z1, (DI)
	ADDQ $32, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop5

done5:
	VZEROUPPER
	RET

// SUM8 leaves the sum of the eight lanes of Z0 in AX; Z1 is clobbered.
#define SUM8 \
	VEXTRACTI64X4 $1, Z0, Y1 \
	VPADDQ        Y1, Y0, Y0 \
	VEXTRACTI128  $1, Y0, X1 \
	VPADDQ        X1, X0, X0 \
	VPSHUFD       $0x4e, X0, X1 \
	VPADDQ        X1, X0, X0 \
	VMOVQ         X0, AX

// func foldx8(r, d *uint64, n int) (sum uint64)
// r[i] = rowFold(r[i], d[i]); sum is the sum of d.
TEXT ·foldx8(SB), NOSPLIT, $0-32
	MOVQ r+0(FP), DI
	MOVQ d+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ PRIME1, AX
	VPBROADCASTQ AX, Z28
	MOVQ PRIME2, AX
	VPBROADCASTQ AX, Z29
	MOVQ PRIME4, AX
	VPBROADCASTQ AX, Z30
	VPXORQ Z0, Z0, Z0
	SHRQ $3, CX
	JZ   donefold

loopfold:
	VMOVDQU64 (SI), Z2
	VPADDQ    Z2, Z0, Z0
	VPMULLQ   Z29, Z2, Z2
	VPROLQ    $31, Z2, Z2
	VPMULLQ   Z28, Z2, Z2
	VPXORQ    (DI), Z2, Z2
	VPROLQ    $27, Z2, Z2
	VPMULLQ   Z28, Z2, Z2
	VPADDQ    Z30, Z2, Z2
	VMOVDQU64 Z2, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loopfold

donefold:
	SUM8
	MOVQ AX, sum+24(FP)
	VZEROUPPER
	RET

// func finishx8(r *uint64, n int) (sum uint64)
// r[i] = rowFinish(r[i]); sum is the sum of the results.
TEXT ·finishx8(SB), NOSPLIT, $0-24
	MOVQ r+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ PRIME2, AX
	VPBROADCASTQ AX, Z29
	MOVQ PRIME3, AX
	VPBROADCASTQ AX, Z27
	VPXORQ Z0, Z0, Z0
	SHRQ $3, CX
	JZ   donefinish

loopfinish:
	VMOVDQU64 (DI), Z2
	AVALANCHE(Z2, Z3, Z29, Z27)
	VMOVDQU64 Z2, (DI)
	VPADDQ    Z2, Z0, Z0
	ADDQ $64, DI
	DECQ CX
	JNZ  loopfinish

donefinish:
	SUM8
	MOVQ AX, sum+16(FP)
	VZEROUPPER
	RET
