package dev.spanheap.internal;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Room on the stack for a slow path, checked before it changes anything shared.
 *
 * <p>A {@link StackOverflowError} can strike at any call. Inside a slow path it would leave a shared
 * structure half-updated for every thread after it: a free run unlinked from the page heap's tree,
 * a page count off, a sample without its span (found by {@code StackOverflowTest}, which overflows
 * callers' stacks at random points). So before any such update takes its first step, the heap calls
 * {@link #ensure()}, which reaches about 16 KiB below its caller's frame: if the stack cannot take
 * that, the error strikes there, before anything changed, and the caller sees an overflow from a
 * call, as from any other (package-info lists where it is called). The slow paths below need a
 * few KiB (in the interpreter, whose frames are the largest, 4 KiB of headroom was too little and
 * 8 KiB enough in that test). A thread within 16 KiB of its stack's end gets its overflow a little
 * earlier, and safely.
 *
 * <p>How the frames are made large at little cost per call. HotSpot touches the stack a shadow zone
 * below each compiled frame on entry (below every page of a frame larger than one), and sizes a
 * compiled frame for the values it keeps across calls. {@link #level} holds, on a branch taken once
 * in 256 calls (often enough that C2 compiles it rather than a trap), {@value #KEPT} values read
 * before a call of {@link #sink} and used after it: about 4 KiB of spill slots in C1's and C2's
 * frames, made by one subtraction on entry. An interpreted frame holds its method's locals, the
 * same {@value #KEPT} {@code long}s (8 KiB). {@code level} is too large to inline into itself, so
 * each level is a frame of its own. {@code ensure()} costs about 12 ns (14 with C1 alone, 19 with
 * C2 alone; a first version whose frames came from a call with 250 arguments cost 7, but C2 refuses
 * such a call and left it to the interpreter, at 700 ns, under {@code -XX:-TieredCompilation}).
 * (The JDK has {@code @ReservedStackAccess} for such sections; it is not open to libraries.)
 */
final class StackHeadroom {

    /** Nested frames of about 4 KiB each, compiled (8 KiB interpreted). */
    static final int LEVELS = 4;
    /** The values {@link #level} keeps across its rare call; see the class comment. */
    static final int KEPT = 500;

    /** What the values kept across the call are read from: anything the JIT cannot recompute. */
    private static final long[] WORDS = new long[KEPT];
    /** Where their sum goes, so that they are used after the call. */
    @SuppressWarnings("unused")
    private static long sum;

    private StackHeadroom() {
    }

    /** Throws {@link StackOverflowError} unless about 16 KiB of stack lie below the caller's frame. */
    static void ensure() {
        level(LEVELS, ThreadLocalRandom.current().nextInt());
    }

    private static void level(int remaining, int s) {
        if ((s & 0xFF) == 0) {
            // The frame's size, not the work: values read before the call and used after it.
            long[] w = WORDS;
            long l0 = w[0]; long l1 = w[1]; long l2 = w[2]; long l3 = w[3]; long l4 = w[4]; long l5 = w[5];
            long l6 = w[6]; long l7 = w[7]; long l8 = w[8]; long l9 = w[9]; long l10 = w[10];
            long l11 = w[11]; long l12 = w[12]; long l13 = w[13]; long l14 = w[14]; long l15 = w[15];
            long l16 = w[16]; long l17 = w[17]; long l18 = w[18]; long l19 = w[19]; long l20 = w[20];
            long l21 = w[21]; long l22 = w[22]; long l23 = w[23]; long l24 = w[24]; long l25 = w[25];
            long l26 = w[26]; long l27 = w[27]; long l28 = w[28]; long l29 = w[29]; long l30 = w[30];
            long l31 = w[31]; long l32 = w[32]; long l33 = w[33]; long l34 = w[34]; long l35 = w[35];
            long l36 = w[36]; long l37 = w[37]; long l38 = w[38]; long l39 = w[39]; long l40 = w[40];
            long l41 = w[41]; long l42 = w[42]; long l43 = w[43]; long l44 = w[44]; long l45 = w[45];
            long l46 = w[46]; long l47 = w[47]; long l48 = w[48]; long l49 = w[49]; long l50 = w[50];
            long l51 = w[51]; long l52 = w[52]; long l53 = w[53]; long l54 = w[54]; long l55 = w[55];
            long l56 = w[56]; long l57 = w[57]; long l58 = w[58]; long l59 = w[59]; long l60 = w[60];
            long l61 = w[61]; long l62 = w[62]; long l63 = w[63]; long l64 = w[64]; long l65 = w[65];
            long l66 = w[66]; long l67 = w[67]; long l68 = w[68]; long l69 = w[69]; long l70 = w[70];
            long l71 = w[71]; long l72 = w[72]; long l73 = w[73]; long l74 = w[74]; long l75 = w[75];
            long l76 = w[76]; long l77 = w[77]; long l78 = w[78]; long l79 = w[79]; long l80 = w[80];
            long l81 = w[81]; long l82 = w[82]; long l83 = w[83]; long l84 = w[84]; long l85 = w[85];
            long l86 = w[86]; long l87 = w[87]; long l88 = w[88]; long l89 = w[89]; long l90 = w[90];
            long l91 = w[91]; long l92 = w[92]; long l93 = w[93]; long l94 = w[94]; long l95 = w[95];
            long l96 = w[96]; long l97 = w[97]; long l98 = w[98]; long l99 = w[99]; long l100 = w[100];
            long l101 = w[101]; long l102 = w[102]; long l103 = w[103]; long l104 = w[104];
            long l105 = w[105]; long l106 = w[106]; long l107 = w[107]; long l108 = w[108];
            long l109 = w[109]; long l110 = w[110]; long l111 = w[111]; long l112 = w[112];
            long l113 = w[113]; long l114 = w[114]; long l115 = w[115]; long l116 = w[116];
            long l117 = w[117]; long l118 = w[118]; long l119 = w[119]; long l120 = w[120];
            long l121 = w[121]; long l122 = w[122]; long l123 = w[123]; long l124 = w[124];
            long l125 = w[125]; long l126 = w[126]; long l127 = w[127]; long l128 = w[128];
            long l129 = w[129]; long l130 = w[130]; long l131 = w[131]; long l132 = w[132];
            long l133 = w[133]; long l134 = w[134]; long l135 = w[135]; long l136 = w[136];
            long l137 = w[137]; long l138 = w[138]; long l139 = w[139]; long l140 = w[140];
            long l141 = w[141]; long l142 = w[142]; long l143 = w[143]; long l144 = w[144];
            long l145 = w[145]; long l146 = w[146]; long l147 = w[147]; long l148 = w[148];
            long l149 = w[149]; long l150 = w[150]; long l151 = w[151]; long l152 = w[152];
            long l153 = w[153]; long l154 = w[154]; long l155 = w[155]; long l156 = w[156];
            long l157 = w[157]; long l158 = w[158]; long l159 = w[159]; long l160 = w[160];
            long l161 = w[161]; long l162 = w[162]; long l163 = w[163]; long l164 = w[164];
            long l165 = w[165]; long l166 = w[166]; long l167 = w[167]; long l168 = w[168];
            long l169 = w[169]; long l170 = w[170]; long l171 = w[171]; long l172 = w[172];
            long l173 = w[173]; long l174 = w[174]; long l175 = w[175]; long l176 = w[176];
            long l177 = w[177]; long l178 = w[178]; long l179 = w[179]; long l180 = w[180];
            long l181 = w[181]; long l182 = w[182]; long l183 = w[183]; long l184 = w[184];
            long l185 = w[185]; long l186 = w[186]; long l187 = w[187]; long l188 = w[188];
            long l189 = w[189]; long l190 = w[190]; long l191 = w[191]; long l192 = w[192];
            long l193 = w[193]; long l194 = w[194]; long l195 = w[195]; long l196 = w[196];
            long l197 = w[197]; long l198 = w[198]; long l199 = w[199]; long l200 = w[200];
            long l201 = w[201]; long l202 = w[202]; long l203 = w[203]; long l204 = w[204];
            long l205 = w[205]; long l206 = w[206]; long l207 = w[207]; long l208 = w[208];
            long l209 = w[209]; long l210 = w[210]; long l211 = w[211]; long l212 = w[212];
            long l213 = w[213]; long l214 = w[214]; long l215 = w[215]; long l216 = w[216];
            long l217 = w[217]; long l218 = w[218]; long l219 = w[219]; long l220 = w[220];
            long l221 = w[221]; long l222 = w[222]; long l223 = w[223]; long l224 = w[224];
            long l225 = w[225]; long l226 = w[226]; long l227 = w[227]; long l228 = w[228];
            long l229 = w[229]; long l230 = w[230]; long l231 = w[231]; long l232 = w[232];
            long l233 = w[233]; long l234 = w[234]; long l235 = w[235]; long l236 = w[236];
            long l237 = w[237]; long l238 = w[238]; long l239 = w[239]; long l240 = w[240];
            long l241 = w[241]; long l242 = w[242]; long l243 = w[243]; long l244 = w[244];
            long l245 = w[245]; long l246 = w[246]; long l247 = w[247]; long l248 = w[248];
            long l249 = w[249]; long l250 = w[250]; long l251 = w[251]; long l252 = w[252];
            long l253 = w[253]; long l254 = w[254]; long l255 = w[255]; long l256 = w[256];
            long l257 = w[257]; long l258 = w[258]; long l259 = w[259]; long l260 = w[260];
            long l261 = w[261]; long l262 = w[262]; long l263 = w[263]; long l264 = w[264];
            long l265 = w[265]; long l266 = w[266]; long l267 = w[267]; long l268 = w[268];
            long l269 = w[269]; long l270 = w[270]; long l271 = w[271]; long l272 = w[272];
            long l273 = w[273]; long l274 = w[274]; long l275 = w[275]; long l276 = w[276];
            long l277 = w[277]; long l278 = w[278]; long l279 = w[279]; long l280 = w[280];
            long l281 = w[281]; long l282 = w[282]; long l283 = w[283]; long l284 = w[284];
            long l285 = w[285]; long l286 = w[286]; long l287 = w[287]; long l288 = w[288];
            long l289 = w[289]; long l290 = w[290]; long l291 = w[291]; long l292 = w[292];
            long l293 = w[293]; long l294 = w[294]; long l295 = w[295]; long l296 = w[296];
            long l297 = w[297]; long l298 = w[298]; long l299 = w[299]; long l300 = w[300];
            long l301 = w[301]; long l302 = w[302]; long l303 = w[303]; long l304 = w[304];
            long l305 = w[305]; long l306 = w[306]; long l307 = w[307]; long l308 = w[308];
            long l309 = w[309]; long l310 = w[310]; long l311 = w[311]; long l312 = w[312];
            long l313 = w[313]; long l314 = w[314]; long l315 = w[315]; long l316 = w[316];
            long l317 = w[317]; long l318 = w[318]; long l319 = w[319]; long l320 = w[320];
            long l321 = w[321]; long l322 = w[322]; long l323 = w[323]; long l324 = w[324];
            long l325 = w[325]; long l326 = w[326]; long l327 = w[327]; long l328 = w[328];
            long l329 = w[329]; long l330 = w[330]; long l331 = w[331]; long l332 = w[332];
            long l333 = w[333]; long l334 = w[334]; long l335 = w[335]; long l336 = w[336];
            long l337 = w[337]; long l338 = w[338]; long l339 = w[339]; long l340 = w[340];
            long l341 = w[341]; long l342 = w[342]; long l343 = w[343]; long l344 = w[344];
            long l345 = w[345]; long l346 = w[346]; long l347 = w[347]; long l348 = w[348];
            long l349 = w[349]; long l350 = w[350]; long l351 = w[351]; long l352 = w[352];
            long l353 = w[353]; long l354 = w[354]; long l355 = w[355]; long l356 = w[356];
            long l357 = w[357]; long l358 = w[358]; long l359 = w[359]; long l360 = w[360];
            long l361 = w[361]; long l362 = w[362]; long l363 = w[363]; long l364 = w[364];
            long l365 = w[365]; long l366 = w[366]; long l367 = w[367]; long l368 = w[368];
            long l369 = w[369]; long l370 = w[370]; long l371 = w[371]; long l372 = w[372];
            long l373 = w[373]; long l374 = w[374]; long l375 = w[375]; long l376 = w[376];
            long l377 = w[377]; long l378 = w[378]; long l379 = w[379]; long l380 = w[380];
            long l381 = w[381]; long l382 = w[382]; long l383 = w[383]; long l384 = w[384];
            long l385 = w[385]; long l386 = w[386]; long l387 = w[387]; long l388 = w[388];
            long l389 = w[389]; long l390 = w[390]; long l391 = w[391]; long l392 = w[392];
            long l393 = w[393]; long l394 = w[394]; long l395 = w[395]; long l396 = w[396];
            long l397 = w[397]; long l398 = w[398]; long l399 = w[399]; long l400 = w[400];
            long l401 = w[401]; long l402 = w[402]; long l403 = w[403]; long l404 = w[404];
            long l405 = w[405]; long l406 = w[406]; long l407 = w[407]; long l408 = w[408];
            long l409 = w[409]; long l410 = w[410]; long l411 = w[411]; long l412 = w[412];
            long l413 = w[413]; long l414 = w[414]; long l415 = w[415]; long l416 = w[416];
            long l417 = w[417]; long l418 = w[418]; long l419 = w[419]; long l420 = w[420];
            long l421 = w[421]; long l422 = w[422]; long l423 = w[423]; long l424 = w[424];
            long l425 = w[425]; long l426 = w[426]; long l427 = w[427]; long l428 = w[428];
            long l429 = w[429]; long l430 = w[430]; long l431 = w[431]; long l432 = w[432];
            long l433 = w[433]; long l434 = w[434]; long l435 = w[435]; long l436 = w[436];
            long l437 = w[437]; long l438 = w[438]; long l439 = w[439]; long l440 = w[440];
            long l441 = w[441]; long l442 = w[442]; long l443 = w[443]; long l444 = w[444];
            long l445 = w[445]; long l446 = w[446]; long l447 = w[447]; long l448 = w[448];
            long l449 = w[449]; long l450 = w[450]; long l451 = w[451]; long l452 = w[452];
            long l453 = w[453]; long l454 = w[454]; long l455 = w[455]; long l456 = w[456];
            long l457 = w[457]; long l458 = w[458]; long l459 = w[459]; long l460 = w[460];
            long l461 = w[461]; long l462 = w[462]; long l463 = w[463]; long l464 = w[464];
            long l465 = w[465]; long l466 = w[466]; long l467 = w[467]; long l468 = w[468];
            long l469 = w[469]; long l470 = w[470]; long l471 = w[471]; long l472 = w[472];
            long l473 = w[473]; long l474 = w[474]; long l475 = w[475]; long l476 = w[476];
            long l477 = w[477]; long l478 = w[478]; long l479 = w[479]; long l480 = w[480];
            long l481 = w[481]; long l482 = w[482]; long l483 = w[483]; long l484 = w[484];
            long l485 = w[485]; long l486 = w[486]; long l487 = w[487]; long l488 = w[488];
            long l489 = w[489]; long l490 = w[490]; long l491 = w[491]; long l492 = w[492];
            long l493 = w[493]; long l494 = w[494]; long l495 = w[495]; long l496 = w[496];
            long l497 = w[497]; long l498 = w[498]; long l499 = w[499];
            s ^= sink(s);
            sum = s + l0 + l1 + l2 + l3 + l4 + l5 + l6 + l7 + l8 + l9 + l10 + l11 + l12 + l13 + l14 + l15
                    + l16 + l17 + l18 + l19 + l20 + l21 + l22 + l23 + l24 + l25 + l26 + l27 + l28 + l29 + l30 + l31
                    + l32 + l33 + l34 + l35 + l36 + l37 + l38 + l39 + l40 + l41 + l42 + l43 + l44 + l45 + l46 + l47
                    + l48 + l49 + l50 + l51 + l52 + l53 + l54 + l55 + l56 + l57 + l58 + l59 + l60 + l61 + l62 + l63
                    + l64 + l65 + l66 + l67 + l68 + l69 + l70 + l71 + l72 + l73 + l74 + l75 + l76 + l77 + l78 + l79
                    + l80 + l81 + l82 + l83 + l84 + l85 + l86 + l87 + l88 + l89 + l90 + l91 + l92 + l93 + l94 + l95
                    + l96 + l97 + l98 + l99 + l100 + l101 + l102 + l103 + l104 + l105 + l106 + l107 + l108 + l109
                    + l110 + l111 + l112 + l113 + l114 + l115 + l116 + l117 + l118 + l119 + l120 + l121 + l122 + l123
                    + l124 + l125 + l126 + l127 + l128 + l129 + l130 + l131 + l132 + l133 + l134 + l135 + l136 + l137
                    + l138 + l139 + l140 + l141 + l142 + l143 + l144 + l145 + l146 + l147 + l148 + l149 + l150 + l151
                    + l152 + l153 + l154 + l155 + l156 + l157 + l158 + l159 + l160 + l161 + l162 + l163 + l164 + l165
                    + l166 + l167 + l168 + l169 + l170 + l171 + l172 + l173 + l174 + l175 + l176 + l177 + l178 + l179
                    + l180 + l181 + l182 + l183 + l184 + l185 + l186 + l187 + l188 + l189 + l190 + l191 + l192 + l193
                    + l194 + l195 + l196 + l197 + l198 + l199 + l200 + l201 + l202 + l203 + l204 + l205 + l206 + l207
                    + l208 + l209 + l210 + l211 + l212 + l213 + l214 + l215 + l216 + l217 + l218 + l219 + l220 + l221
                    + l222 + l223 + l224 + l225 + l226 + l227 + l228 + l229 + l230 + l231 + l232 + l233 + l234 + l235
                    + l236 + l237 + l238 + l239 + l240 + l241 + l242 + l243 + l244 + l245 + l246 + l247 + l248 + l249
                    + l250 + l251 + l252 + l253 + l254 + l255 + l256 + l257 + l258 + l259 + l260 + l261 + l262 + l263
                    + l264 + l265 + l266 + l267 + l268 + l269 + l270 + l271 + l272 + l273 + l274 + l275 + l276 + l277
                    + l278 + l279 + l280 + l281 + l282 + l283 + l284 + l285 + l286 + l287 + l288 + l289 + l290 + l291
                    + l292 + l293 + l294 + l295 + l296 + l297 + l298 + l299 + l300 + l301 + l302 + l303 + l304 + l305
                    + l306 + l307 + l308 + l309 + l310 + l311 + l312 + l313 + l314 + l315 + l316 + l317 + l318 + l319
                    + l320 + l321 + l322 + l323 + l324 + l325 + l326 + l327 + l328 + l329 + l330 + l331 + l332 + l333
                    + l334 + l335 + l336 + l337 + l338 + l339 + l340 + l341 + l342 + l343 + l344 + l345 + l346 + l347
                    + l348 + l349 + l350 + l351 + l352 + l353 + l354 + l355 + l356 + l357 + l358 + l359 + l360 + l361
                    + l362 + l363 + l364 + l365 + l366 + l367 + l368 + l369 + l370 + l371 + l372 + l373 + l374 + l375
                    + l376 + l377 + l378 + l379 + l380 + l381 + l382 + l383 + l384 + l385 + l386 + l387 + l388 + l389
                    + l390 + l391 + l392 + l393 + l394 + l395 + l396 + l397 + l398 + l399 + l400 + l401 + l402 + l403
                    + l404 + l405 + l406 + l407 + l408 + l409 + l410 + l411 + l412 + l413 + l414 + l415 + l416 + l417
                    + l418 + l419 + l420 + l421 + l422 + l423 + l424 + l425 + l426 + l427 + l428 + l429 + l430 + l431
                    + l432 + l433 + l434 + l435 + l436 + l437 + l438 + l439 + l440 + l441 + l442 + l443 + l444 + l445
                    + l446 + l447 + l448 + l449 + l450 + l451 + l452 + l453 + l454 + l455 + l456 + l457 + l458 + l459
                    + l460 + l461 + l462 + l463 + l464 + l465 + l466 + l467 + l468 + l469 + l470 + l471 + l472 + l473
                    + l474 + l475 + l476 + l477 + l478 + l479 + l480 + l481 + l482 + l483 + l484 + l485 + l486 + l487
                    + l488 + l489 + l490 + l491 + l492 + l493 + l494 + l495 + l496 + l497 + l498 + l499;
        }
        if (remaining > 1) {
            level(remaining - 1, Integer.rotateRight(s, 8) + remaining);
        }
    }

    /**
     * The call the kept values live across. Too large to inline at a rarely taken call site, so it
     * stays a call; what it returns is not needed.
     */
    private static int sink(int s) {
        int h = s;
        for (int i = 0; i < 4; i++) {
            h = Integer.rotateLeft(h * 0x9E3779B9 + i, 13) ^ (h >>> 7);
            h += Integer.bitCount(h) * 31 + Integer.numberOfLeadingZeros(h | 1);
        }
        return h;
    }
}
