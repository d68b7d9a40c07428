/* relais' build of pjproject 2.15.1: limits for a switch worker that holds hundreds of calls.
 *
 * Copied to pjlib/include/pj/config_site.h by scripts/build-pjproject.sh. The figures and why
 * each is needed are in docs/operations.md ("The pjproject build"). Change a value here and
 * `make install` rebuilds (the build stamp covers this file).
 */

/* Calls per process (pjsua.h default 4). A voicemail call uses up to 4 conference bridge
 * ports: the call, a player, the message's recorder, and the tap that listens to the caller
 * (switch/tap.c) or, with `listen = "files"`, a second recorder writing the listen file. */
#define PJSUA_MAX_CALLS                     512
#define PJSUA_MAX_PLAYERS                   1280
#define PJSUA_MAX_RECORDERS                 1536
#define PJSUA_MAX_CONF_PORTS                2560

/* epoll ioqueue (configure --enable-epoll): one handle per RTP and RTCP socket and per SIP
 * transport; select() would break once any descriptor number passes 1024. */
#define PJ_IOQUEUE_MAX_HANDLES              4096
#define PJ_IOQUEUE_MAX_EVENTS_IN_SINGLE_POLL 64

/* Hash table sizes for transactions and dialogs (not limits). */
#define PJSIP_MAX_TSX_COUNT                 (4096-1)
#define PJSIP_MAX_DIALOG_COUNT              (2048-1)

/* No video, no sound device: a switch worker only uses the null audio device. */
#define PJMEDIA_HAS_VIDEO                   0

/* The media thread handles the packets that arrived, then sleeps this long before its next
 * poll instead of waking for every packet (patches/0003): at most 5 ms more delay for a
 * packet, far inside the jitter buffer, and a wake-up per 5 ms instead of per packet. */
#define PJMEDIA_WORKER_BATCH_MSEC           5

/* An idle media thread waits this long in its poll before it looks at its quit flag again
 * (patches/0007; pjmedia's 10 ms woke an idle worker 100 times a second). A packet ends the
 * wait at once; stopping the library waits at most this long for the thread. */
#define PJMEDIA_WORKER_IDLE_MSEC            100
