// @ts-check
//! Every piece of text the client shows, French first, then English.
//! The language comes from `?lang=`, else the browser's preferences, else French;
//! the switcher in the page changes it live (see `onLanguageChange`).

/** @typedef {"fr" | "en"} Lang */

const fr = {
  "app.name": "cadre",
  "app.tagline": "Séance à distance",
  "app.loading": "Chargement de la séance…",
  "lang.label": "Langue",
  "lang.fr": "Français",
  "lang.en": "English",

  "kind.formation": "Formation",
  "kind.bilan": "Bilan de compétences",
  "kind.vae": "VAE (validation des acquis de l’expérience)",
  "kind.coaching": "Coaching",
  "kind.gapp": "Groupe d’analyse de pratiques",
  "kind.intervention": "Intervention",

  "role.facilitator": "accompagnant·e",
  "role.participant": "participant·e",

  "state.scheduled": "Programmée",
  "state.open": "Ouverte",
  "state.running": "En cours",
  "state.suspended": "Suspendue",
  "state.postponed": "Reportée",
  "state.ended": "Terminée",

  "lobby.heading": "Avant de rejoindre",
  "lobby.organisation": "Organisme",
  "lobby.when": "Date et horaires",
  "lobby.time_zone": "heure de {tz}",
  "lobby.facilitators": "Accompagnement",
  "lobby.you": "Vous",
  "lobby.you_are": "{name}, {role}",
  "lobby.preview": "Aperçu de votre caméra",
  "lobby.preview_off": "Caméra désactivée",
  "lobby.devices": "Vos appareils",
  "lobby.camera_select": "Caméra",
  "lobby.microphone_select": "Micro",
  "lobby.no_camera": "Aucune caméra détectée",
  "lobby.no_microphone": "Aucun micro détecté",
  "lobby.device_default": "Appareil {n}",
  "lobby.camera_on": "Entrer avec la caméra activée",
  "lobby.microphone_on": "Entrer avec le micro activé",
  "lobby.join": "Rejoindre la séance",
  "lobby.joining": "Connexion…",
  "lobby.state": "État de la séance : {state}",

  "notice.title": "Ce que la séance enregistre, et pourquoi",
  "notice.why": "Votre présence doit pouvoir être attestée, comme le prévoit le cadre des accompagnements de l’organisme. La séance conserve donc, comme preuves de participation :",
  "notice.item.times": "les heures de connexion et de déconnexion ;",
  "notice.item.presence": "des signaux de présence : onglet de la séance visible ou non, caméra et micro activés ou coupés ;",
  "notice.item.signin": "vos émargements (signatures en ligne).",
  "notice.never": "Jamais le contenu des échanges, ni image, ni son. Aucun enregistrement de la séance sans l’accord explicite de chaque personne présente.",
  "notice.access": "Vous pouvez consulter à tout moment ce qui est enregistré à votre sujet.",

  "consents.lobby_title": "Vos accords",
  "consents.free": "Ces accords sont facultatifs : vous rejoignez la séance quels que soient vos choix, même sans rien choisir. Vous pourrez les changer à tout moment pendant la séance, dans « Mes accords ».",
  "consents.name.recording": "Enregistrement de la séance",
  "consents.name.sponsor_share": "Transmission au commanditaire",
  "consents.accept": "J’accepte",
  "consents.refuse": "Je refuse",
  "consents.control": "Mes accords",
  "consents.title": "Mes accords",
  "consents.call_intro": "Vos choix comptent dès qu’ils sont enregistrés. Vous pouvez les changer à tout moment ; refuser ou retirer un accord ne change rien à votre participation.",
  "consents.recording": "Enregistrement de votre choix en cours…",
  "consents.granted_at": "Accord enregistré à {time}.",
  "consents.refused_at": "Refus enregistré à {time}.",
  "consents.error.offline": "Pas de connexion au serveur : votre choix n’a pas été envoyé. Réessayez une fois la connexion revenue.",
  "consents.error.refused": "Le serveur n’a pas accepté ce choix (texte inconnu). Rechargez la page pour afficher le texte à jour.",

  "media.denied": "L’accès à la caméra ou au micro a été refusé. Vous pouvez l’autoriser dans les réglages du navigateur, ou entrer sans.",
  "media.not_found": "Aucune caméra ni aucun micro n’a été trouvé. Vous pouvez entrer sans.",
  "media.busy": "La caméra ou le micro est déjà utilisé par une autre application.",
  "media.unavailable": "Ce navigateur ne permet pas l’accès à la caméra et au micro sur cette page.",
  "media.failed": "La caméra ou le micro n’a pas pu démarrer.",

  "error.title": "Impossible d’ouvrir la séance",
  "error.invalid_link": "Lien invalide. Vérifiez que vous avez ouvert le lien complet reçu par message, ou demandez-en un nouveau à l’organisme.",
  "error.token_expired": "Ce lien a expiré. Demandez un nouveau lien à l’organisme.",
  "error.token_expired_at": "Ce lien a expiré le {when}. Demandez un nouveau lien à l’organisme.",
  "error.token_not_yet_valid": "Ce lien n’est pas encore ouvert. Revenez un peu avant le début de la séance.",
  "error.token_not_yet_valid_at": "Ce lien n’est pas encore ouvert. Il s’ouvrira le {when}.",
  "error.token_revoked": "Ce lien a été révoqué par l’organisme. Contactez votre interlocuteur si vous pensez qu’il s’agit d’une erreur.",
  "error.session_ended": "Cette séance est terminée.",
  "error.forbidden": "Ce lien ne permet pas d’accéder à cette séance.",
  "error.network": "Le serveur ne répond pas. Vérifiez votre connexion à internet, puis réessayez.",
  "error.internal": "Une erreur est survenue sur le serveur. Réessayez dans un instant.",
  "error.unknown": "Une erreur inattendue est survenue ({code}).",
  "error.retry": "Réessayer",

  "socket.malformed_message": "Un message n’a pas été compris par le serveur.",
  "socket.unknown_message_type": "Un message n’a pas été reconnu par le serveur.",
  "socket.message_too_large": "Un message trop volumineux n’a pas été transmis.",
  "socket.unknown_peer": "Un message n’a pas pu être remis : la personne n’est plus connectée.",
  "socket.rate_limited": "Trop de messages en peu de temps : certains n’ont pas été transmis.",
  "socket.forbidden": "Action non autorisée pour votre rôle.",
  "socket.internal": "Erreur du serveur ; rien n’a été modifié.",
  "socket.other": "Le serveur signale une erreur ({code}).",

  "socket.not_open": "Ce n’est pas possible en ce moment : l’émargement n’est pas ouvert.",
  "socket.conflict": "C’est déjà fait, ou cela contredit ce qui est enregistré.",
  "socket.invalid_input": "Le serveur a refusé une demande invalide ; rien n’a été modifié.",

  "call.side": "Émargement et présence",

  "panel.close": "Fermer « {title} »",
  "panel.attention": "(à faire)",

  "slot.am": "matinée du {date}",
  "slot.pm": "après-midi du {date}",
  "slot.short_am": "matinée",
  "slot.short_pm": "après-midi",

  "signin.control": "Émargement",
  "signin.title": "Émargement — {slot}",
  "signin.intro": "Confirmez votre présence pour cette demi-journée. L’émargement est ouvert jusqu’à {time}.",
  "signin.closed_at": "L’émargement de cette demi-journée a fermé à {time}.",
  "signin.not_open": "L’émargement de cette demi-journée n’est pas encore ouvert.",
  "signin.none": "Aucun émargement n’est prévu pour l’instant.",
  "signin.pad_title": "Signature (facultative)",
  "signin.pad_label": "Zone de signature facultative : dessinez à la souris, au doigt ou au stylet.",
  "signin.pad_hint": "Vous pouvez signer à la souris, au doigt ou au stylet. La signature est facultative : le bouton suffit à confirmer votre présence.",
  "signin.clear": "Effacer",
  "signin.confirm": "Je confirme ma présence",
  "signin.sending": "Enregistrement…",
  "signin.done": "Présence confirmée à {time}.",
  "signin.countersign_waiting": "Contresignature de l’accompagnant·e : en attente.",
  "signin.countersigned_at": "Émargement contresigné par l’accompagnant·e à {time}.",
  "signin.announce_open": "Émargement ouvert : {slot}.",
  "signin.error.offline": "Pas de connexion au serveur pour l’instant : réessayez dès qu’elle revient.",
  "signin.error.no_answer": "Le serveur n’a pas répondu : réessayez dans un instant.",
  "signin.error.not_open": "L’émargement de cette demi-journée n’est plus ouvert.",
  "signin.error.conflict": "Votre émargement pour cette demi-journée est déjà enregistré.",
  "signin.error.invalid_input": "Cette signature n’a pas pu être acceptée : effacez-la et recommencez, ou confirmez sans signature.",

  "receipts.kept": "Reçus conservés dans ce navigateur : {n}. Ils prouvent ce que contenait le registre à ce moment-là.",
  "receipts.none": "Aucun reçu n’est encore conservé dans ce navigateur.",
  "receipts.not_stored": "Ce navigateur n’a pas pu conserver le reçu : téléchargez-le maintenant.",
  "receipts.download": "Télécharger mes reçus ({n})",

  "documents.title": "Mes documents",
  "documents.intro": "Votre attestation est établie à partir du registre au moment où vous la téléchargez : après la séance, elle est complète.",
  "documents.proof_pdf": "Télécharger mon attestation (PDF)",
  "documents.proof_jws": "Attestation signée (fichier .jws, vérifiable)",
  "documents.verify": "N’importe qui peut vérifier le fichier signé, sans avoir à faire confiance à ce serveur, avec la commande {command} et la clé publique de l’organisme, publiée à l’adresse {keys}.",

  "console.control": "Présence",
  "console.title": "Présence",
  "console.no_slot": "Aucune demi-journée en cours.",
  "console.slot_open": "{slot} — émargement ouvert jusqu’à {time}",
  "console.slot_closed": "{slot} — émargement fermé",
  "console.open_signin": "Ouvrir l’émargement",
  "console.summary": "Émargements : {signed} sur {total} · contresignés : {countersigned}",
  "console.online": "connecté·e",
  "console.offline": "hors ligne",
  "console.unknown_person": "Personne non connectée",
  "console.waiting": "en attente",
  "console.unknown_state": "pas encore d’information",
  "console.summary_unknown": "Pas encore d’information du serveur sur les émargements de cette demi-journée.",
  "console.signed_at": "signé à {time}",
  "console.countersigned": "signé à {time} · contresigné",
  "console.countersign": "Contresigner",
  "console.countersigning": "Contresignature…",
  "console.countersign_person": "Contresigner l’émargement de {name}",
  "console.countersign_all": "Contresigner tous les émargements ({n})",
  "console.error_for": "{name} : {why}",
  "console.countersign.error.conflict": "déjà contresigné, ou pas encore signé.",
  "console.countersign.error.not_open": "l’émargement n’est pas ouvert.",
  "console.countersign.error.forbidden": "seul·e l’accompagnant·e peut contresigner.",
  "console.open_signin.error.not_open": "Aucune demi-journée de la séance n’est en cours : l’émargement ne peut pas être ouvert maintenant.",
  "console.open_signin.error.forbidden": "Seul·e l’accompagnant·e peut ouvrir l’émargement.",
  "console.absent": "absent·e",
  "console.proof": "Attestation",
  "console.proof_person": "Attestation de {name} (PDF)",
  "console.documents": "Documents de la séance",
  "console.sheet_pdf": "Feuille d’émargement (PDF)",
  "console.sheet_csv": "Feuille d’émargement (CSV)",
  "console.documents_hint": "Établis à partir du registre au moment du téléchargement.",

  "traces.control": "Mes traces",
  "traces.title": "Mes traces",
  "traces.intro": "Voici tout ce que la séance a enregistré à votre sujet, à l’heure de votre appareil : connexions et déconnexions, onglet visible ou masqué, fenêtre au premier plan ou non, caméra et micro activés ou coupés, émargements et contresignatures, vos accords et refus.",
  "traces.nothing_else": "Rien d’autre n’est enregistré : ni le contenu des échanges, ni image, ni son, ni ce que vous tapez.",
  "traces.loading": "Chargement de vos traces…",
  "traces.empty": "Rien n’est encore enregistré à votre sujet.",

  "trace.connection_opened": "connexion",
  "trace.connection_opened_from": "connexion ({details})",
  "trace.closed.left": "départ de la séance",
  "trace.closed.disconnected": "déconnexion (connexion interrompue)",
  "trace.closed.timeout": "déconnexion (plus de signal de votre appareil)",
  "trace.closed.replaced": "déconnexion (séance ouverte dans un autre onglet ou appareil)",
  "trace.closed.flood": "déconnexion (trop de messages envoyés)",
  "trace.closed.slow_consumer": "déconnexion (connexion trop lente)",
  "trace.closed.revoked": "déconnexion (lien révoqué)",
  "trace.closed.shutdown": "déconnexion (redémarrage du serveur)",
  "trace.closed.other": "déconnexion",
  "trace.heartbeats": "connexion active de {from} à {to}",
  "trace.heartbeats_plain": "connexion active",
  "trace.tab_visible": "onglet visible",
  "trace.tab_hidden": "onglet masqué",
  "trace.window_focused": "fenêtre au premier plan",
  "trace.window_blurred": "fenêtre en arrière-plan",
  "trace.camera_on": "caméra activée",
  "trace.camera_off": "caméra coupée",
  "trace.microphone_on": "micro activé",
  "trace.microphone_off": "micro coupé",
  "trace.media_same": "caméra et micro inchangés",
  "trace.signin_opened": "ouverture de l’émargement ({slot})",
  "trace.signed": "émargement {slot}",
  "trace.signed_drawn": "émargement {slot} (avec signature)",
  "trace.countersigned": "contresigné par l’accompagnant·e ({slot})",
  "trace.countersigned_by_you": "contresignature de l’émargement de {name} ({slot})",
  "trace.session_state": "séance : {from} → {to}",
  "trace.session_state_reason": "séance : {from} → {to} ({reason})",
  "trace.server_started": "démarrage du serveur",
  "trace.server_stopping": "arrêt du serveur",
  "trace.consent.recording.granted": "accord pour l’enregistrement donné",
  "trace.consent.recording.refused": "accord pour l’enregistrement refusé",
  "trace.consent.recording.withdrawn": "accord pour l’enregistrement retiré",
  "trace.consent.sponsor_share.granted": "accord de transmission au commanditaire donné",
  "trace.consent.sponsor_share.refused": "accord de transmission au commanditaire refusé",
  "trace.consent.sponsor_share.withdrawn": "accord de transmission au commanditaire retiré",
  "trace.consent.other": "décision « {consent} » ({granted})",
  "trace.other": "événement « {kind} »",

  "status.label": "État de la connexion",
  "status.connecting": "Connexion…",
  "status.connected": "Connecté",
  "status.reconnecting": "Reconnexion…",
  "status.offline": "Hors ligne",
  "status.replaced": "Ouverte ailleurs",
  "status.revoked": "Accès révoqué",
  "status.ended": "Déconnecté",
  "status.left": "Séance quittée",

  "banner.replaced": "Vous avez ouvert la séance dans un autre onglet ou sur un autre appareil : cette fenêtre est déconnectée.",
  "banner.resume_here": "Reprendre ici",
  "banner.revoked": "Votre lien d’accès a été révoqué par l’organisme. Contactez votre interlocuteur si vous pensez qu’il s’agit d’une erreur.",
  "banner.shutdown": "Le serveur redémarre. Reconnexion automatique…",
  "banner.offline": "Connexion perdue. Nouvelle tentative automatique…",
  "banner.protocol": "Une nouvelle version de l’application est disponible : rechargez la page.",
  "banner.autoplay": "Le navigateur a bloqué le son des autres personnes.",
  "banner.autoplay_button": "Activer le son",

  "call.participants": "Personnes dans la séance",
  "call.you": "{name} (vous)",
  "call.alone": "Vous êtes seul·e pour l’instant. Les autres personnes apparaîtront ici dès leur arrivée.",
  "call.controls": "Commandes de la séance",
  "call.mic_mute": "Couper le micro",
  "call.mic_unmute": "Activer le micro",
  "call.cam_off": "Couper la caméra",
  "call.cam_on": "Activer la caméra",
  "call.leave": "Quitter",
  "call.mic_is_off": "Micro coupé",
  "call.cam_is_off": "Caméra coupée",
  "call.peer_connecting": "Connexion en cours…",
  "call.peer_failed": "Connexion difficile…",
  "call.peer_joined": "{name} a rejoint la séance.",
  "call.peer_left": "{name} a quitté la séance.",
  "call.peer_lost": "{name} a perdu la connexion.",
  "call.dismiss": "Fermer",

  "left.title": "Vous avez quitté la séance",
  "left.body": "Votre départ a été pris en compte. Vous pouvez fermer cette page, ou revenir dans la séance.",
  "left.rejoin": "Rejoindre à nouveau",
  "left.leaving": "Enregistrement de votre départ…",
  "left.receipt_kept": "Un reçu de votre départ est conservé dans ce navigateur, avec ceux de vos émargements.",
  "left.no_receipt": "Le serveur n’a pas remis de reçu pour ce départ.",

  "report.loading": "Chargement du rapport…",
  "report.eyebrow": "Rapport au commanditaire · consultation seule",
  "report.title": "Rapport de présence — {sponsor}",
  "report.title_plain": "Rapport de présence",
  "report.session": "Séance",
  "report.kind": "Nature",
  "report.sponsor": "Commanditaire",
  "report.expected": "Participants attendus",
  "report.average": "Taux moyen de réalisation",
  "report.generated": "Rapport établi le {when}. Ce lien de consultation est valable jusqu’au {until}.",
  "report.half_days": "Présence par demi-journée",
  "report.col.half_day": "Demi-journée",
  "report.col.hours": "Horaires prévus",
  "report.col.present": "Présent·es / attendu·es",
  "report.col.signed": "Émargements",
  "report.col.completion": "Taux moyen de réalisation",
  "report.no_half_days": "Aucune demi-journée n’est prévue pour cette séance.",
  "report.completion_note": "Le taux de réalisation est le temps de présence (connecté·e, onglet de la séance visible) rapporté à la durée prévue de la demi-journée, plafonné à 100 %.",
  "report.named": "Participants ayant accepté d’être nommés",
  "report.col.name": "Nom",
  "report.col.present_time": "Temps de présence",
  "report.col.realisation": "Réalisation",
  "report.col.signin": "Émargement",
  "report.col.total": "Sur la séance",
  "report.signed_yes": "signé",
  "report.signed_no": "non signé",
  "report.named_none": "Aucun participant n’a donné son accord pour être nommé dans ce rapport.",
  "report.anonymous": "Les autres participants ({n}) n’apparaissent que dans les chiffres agrégés, faute de leur accord explicite.",
  "report.anonymous_none": "Tous les participants ont accepté d’être nommés.",
  "report.anonymous_withheld": "Les autres participants ({n}) n’apparaissent pas dans ce rapport, faute de leur accord explicite.",
  "report.withheld": "Les chiffres agrégés ne sont pas communiqués : les participants qui n’ont pas donné leur accord pour être nommés sont trop peu nombreux ({n}) pour qu’une moyenne ne décrive pas chacun d’eux.",
  "report.print": "Imprimer",
  "report.error_title": "Impossible d’afficher le rapport",
  "report.error.invalid": "Lien de rapport invalide. Vérifiez que vous avez ouvert le lien complet reçu de l’organisme, ou demandez-lui un nouveau lien.",
  "report.error.expired": "Ce lien de rapport a expiré. Demandez un nouveau lien à l’organisme.",
  "report.error.expired_at": "Ce lien de rapport a expiré le {when}. Demandez un nouveau lien à l’organisme.",
  "report.error.not_yet_valid": "Ce lien de rapport n’est pas encore ouvert.",
  "report.error.not_yet_valid_at": "Ce lien de rapport n’est pas encore ouvert. Il s’ouvrira le {when}.",
  "report.error.revoked": "Ce lien de rapport a été révoqué par l’organisme.",

  "duration.hm": "{h} h {m}",
  "duration.m": "{m} min",
};

/** @typedef {keyof typeof fr} MessageKey */

/** @type {Record<MessageKey, string>} */
const en = {
  "app.name": "cadre",
  "app.tagline": "Remote session",
  "app.loading": "Loading the session…",
  "lang.label": "Language",
  "lang.fr": "Français",
  "lang.en": "English",

  "kind.formation": "Training",
  "kind.bilan": "Skills assessment (bilan de compétences)",
  "kind.vae": "Accreditation of prior experience (VAE)",
  "kind.coaching": "Coaching",
  "kind.gapp": "Practice analysis group",
  "kind.intervention": "Commissioned intervention",

  "role.facilitator": "facilitator",
  "role.participant": "participant",

  "state.scheduled": "Scheduled",
  "state.open": "Open",
  "state.running": "In progress",
  "state.suspended": "Suspended",
  "state.postponed": "Postponed",
  "state.ended": "Ended",

  "lobby.heading": "Before you join",
  "lobby.organisation": "Organisation",
  "lobby.when": "Date and time",
  "lobby.time_zone": "{tz} time",
  "lobby.facilitators": "Facilitated by",
  "lobby.you": "You",
  "lobby.you_are": "{name}, {role}",
  "lobby.preview": "Your camera preview",
  "lobby.preview_off": "Camera off",
  "lobby.devices": "Your devices",
  "lobby.camera_select": "Camera",
  "lobby.microphone_select": "Microphone",
  "lobby.no_camera": "No camera found",
  "lobby.no_microphone": "No microphone found",
  "lobby.device_default": "Device {n}",
  "lobby.camera_on": "Join with camera on",
  "lobby.microphone_on": "Join with microphone on",
  "lobby.join": "Join the session",
  "lobby.joining": "Connecting…",
  "lobby.state": "Session status: {state}",

  "notice.title": "What the session records, and why",
  "notice.why": "Your attendance must be provable, as the organisation’s framework for its sessions requires. The session therefore keeps, as evidence of participation:",
  "notice.item.times": "connection and disconnection times;",
  "notice.item.presence": "presence signals: whether the session tab is visible, camera and microphone on or off;",
  "notice.item.signin": "your sign-ins (online signatures).",
  "notice.never": "Never the content of what is said, nor images, nor sound. The session is never recorded without the explicit agreement of everyone present.",
  "notice.access": "You can see at any time what is recorded about you.",

  "consents.lobby_title": "Your agreements",
  "consents.free": "These agreements are optional: you join the session whatever you choose, even if you choose nothing. You can change them at any time during the session, in “My agreements”.",
  "consents.name.recording": "Recording the session",
  "consents.name.sponsor_share": "Sharing with the sponsor",
  "consents.accept": "I agree",
  "consents.refuse": "I refuse",
  "consents.control": "My agreements",
  "consents.title": "My agreements",
  "consents.call_intro": "Your choices count once they are recorded. You can change them at any time; refusing or withdrawing an agreement changes nothing about your participation.",
  "consents.recording": "Recording your choice…",
  "consents.granted_at": "Agreement recorded at {time}.",
  "consents.refused_at": "Refusal recorded at {time}.",
  "consents.error.offline": "No connection to the server: your choice was not sent. Try again once the connection is back.",
  "consents.error.refused": "The server did not accept this choice (unknown text). Reload the page to show the current text.",

  "media.denied": "Access to the camera or microphone was refused. You can allow it in the browser settings, or join without.",
  "media.not_found": "No camera or microphone was found. You can join without.",
  "media.busy": "The camera or microphone is already in use by another application.",
  "media.unavailable": "This browser does not allow camera and microphone access on this page.",
  "media.failed": "The camera or microphone could not start.",

  "error.title": "The session cannot be opened",
  "error.invalid_link": "Invalid link. Check that you opened the complete link you received, or ask the organisation for a new one.",
  "error.token_expired": "This link has expired. Ask the organisation for a new one.",
  "error.token_expired_at": "This link expired on {when}. Ask the organisation for a new one.",
  "error.token_not_yet_valid": "This link is not open yet. Come back shortly before the session starts.",
  "error.token_not_yet_valid_at": "This link is not open yet. It opens on {when}.",
  "error.token_revoked": "This link was revoked by the organisation. Contact them if you think this is a mistake.",
  "error.session_ended": "This session is over.",
  "error.forbidden": "This link does not give access to this session.",
  "error.network": "The server is not answering. Check your internet connection, then try again.",
  "error.internal": "Something went wrong on the server. Try again in a moment.",
  "error.unknown": "An unexpected error occurred ({code}).",
  "error.retry": "Try again",

  "socket.malformed_message": "The server did not understand a message.",
  "socket.unknown_message_type": "The server did not recognise a message.",
  "socket.message_too_large": "A message was too large and was not delivered.",
  "socket.unknown_peer": "A message could not be delivered: that person is no longer connected.",
  "socket.rate_limited": "Too many messages at once: some were not delivered.",
  "socket.forbidden": "Your role does not allow this action.",
  "socket.internal": "Server error; nothing was changed.",
  "socket.other": "The server reported an error ({code}).",

  "socket.not_open": "Not possible right now: the sign-in is not open.",
  "socket.conflict": "Already done, or it contradicts the record.",
  "socket.invalid_input": "The server refused an invalid request; nothing was changed.",

  "call.side": "Sign-in and attendance",

  "panel.close": "Close “{title}”",
  "panel.attention": "(to do)",

  "slot.am": "morning of {date}",
  "slot.pm": "afternoon of {date}",
  "slot.short_am": "morning",
  "slot.short_pm": "afternoon",

  "signin.control": "Sign-in",
  "signin.title": "Sign-in — {slot}",
  "signin.intro": "Confirm your attendance for this half-day. The sign-in is open until {time}.",
  "signin.closed_at": "The sign-in for this half-day closed at {time}.",
  "signin.not_open": "The sign-in for this half-day is not open yet.",
  "signin.none": "No sign-in is planned for now.",
  "signin.pad_title": "Signature (optional)",
  "signin.pad_label": "Optional signature area: draw with a mouse, a finger or a pen.",
  "signin.pad_hint": "You can sign with a mouse, a finger or a pen. The signature is optional: the button is enough to confirm your attendance.",
  "signin.clear": "Clear",
  "signin.confirm": "I confirm my attendance",
  "signin.sending": "Recording…",
  "signin.done": "Attendance confirmed at {time}.",
  "signin.countersign_waiting": "Facilitator’s countersignature: pending.",
  "signin.countersigned_at": "Sign-in countersigned by the facilitator at {time}.",
  "signin.announce_open": "Sign-in open: {slot}.",
  "signin.error.offline": "No connection to the server right now: try again once it is back.",
  "signin.error.no_answer": "The server did not answer: try again in a moment.",
  "signin.error.not_open": "The sign-in for this half-day is no longer open.",
  "signin.error.conflict": "Your sign-in for this half-day is already recorded.",
  "signin.error.invalid_input": "This signature could not be accepted: clear it and try again, or confirm without a signature.",

  "receipts.kept": "Receipts kept in this browser: {n}. They prove what the record held at that time.",
  "receipts.none": "No receipt is kept in this browser yet.",
  "receipts.not_stored": "This browser could not keep the receipt: download it now.",
  "receipts.download": "Download my receipts ({n})",

  "documents.title": "My documents",
  "documents.intro": "Your certificate is drawn from the record at the moment you download it: after the session, it is complete.",
  "documents.proof_pdf": "Download my certificate (PDF)",
  "documents.proof_jws": "Signed certificate (.jws file, verifiable)",
  "documents.verify": "Anyone can check the signed file, without having to trust this server, with the command {command} and the organisation’s public key, published at {keys}.",

  "console.control": "Attendance",
  "console.title": "Attendance",
  "console.no_slot": "No half-day in progress.",
  "console.slot_open": "{slot} — sign-in open until {time}",
  "console.slot_closed": "{slot} — sign-in closed",
  "console.open_signin": "Open the sign-in",
  "console.summary": "Signed in: {signed} of {total} · countersigned: {countersigned}",
  "console.online": "online",
  "console.offline": "offline",
  "console.unknown_person": "Person not connected",
  "console.waiting": "pending",
  "console.unknown_state": "no information yet",
  "console.summary_unknown": "No information from the server yet about this half-day’s sign-ins.",
  "console.signed_at": "signed at {time}",
  "console.countersigned": "signed at {time} · countersigned",
  "console.countersign": "Countersign",
  "console.countersigning": "Countersigning…",
  "console.countersign_person": "Countersign {name}’s sign-in",
  "console.countersign_all": "Countersign all sign-ins ({n})",
  "console.error_for": "{name}: {why}",
  "console.countersign.error.conflict": "already countersigned, or not signed in yet.",
  "console.countersign.error.not_open": "the sign-in is not open.",
  "console.countersign.error.forbidden": "only a facilitator can countersign.",
  "console.open_signin.error.not_open": "No half-day of this session is in progress: the sign-in cannot be opened now.",
  "console.open_signin.error.forbidden": "Only a facilitator can open the sign-in.",
  "console.absent": "absent",
  "console.proof": "Certificate",
  "console.proof_person": "{name}’s certificate (PDF)",
  "console.documents": "Session documents",
  "console.sheet_pdf": "Attendance sheet (PDF)",
  "console.sheet_csv": "Attendance sheet (CSV)",
  "console.documents_hint": "Drawn from the record at the moment of download.",

  "traces.control": "My record",
  "traces.title": "My record",
  "traces.intro": "This is everything the session has recorded about you, in your device’s time: connections and disconnections, tab visible or hidden, window in front or not, camera and microphone on or off, sign-ins and countersignatures, your agreements and refusals.",
  "traces.nothing_else": "Nothing else is recorded: not what is said, no images, no sound, nothing you type.",
  "traces.loading": "Loading your record…",
  "traces.empty": "Nothing has been recorded about you yet.",

  "trace.connection_opened": "connected",
  "trace.connection_opened_from": "connected ({details})",
  "trace.closed.left": "left the session",
  "trace.closed.disconnected": "disconnected (connection lost)",
  "trace.closed.timeout": "disconnected (no signal from your device)",
  "trace.closed.replaced": "disconnected (session opened in another tab or device)",
  "trace.closed.flood": "disconnected (too many messages sent)",
  "trace.closed.slow_consumer": "disconnected (connection too slow)",
  "trace.closed.revoked": "disconnected (link revoked)",
  "trace.closed.shutdown": "disconnected (server restart)",
  "trace.closed.other": "disconnected",
  "trace.heartbeats": "connection active from {from} to {to}",
  "trace.heartbeats_plain": "connection active",
  "trace.tab_visible": "tab visible",
  "trace.tab_hidden": "tab hidden",
  "trace.window_focused": "window in front",
  "trace.window_blurred": "window in the background",
  "trace.camera_on": "camera on",
  "trace.camera_off": "camera off",
  "trace.microphone_on": "microphone on",
  "trace.microphone_off": "microphone off",
  "trace.media_same": "camera and microphone unchanged",
  "trace.signin_opened": "sign-in opened ({slot})",
  "trace.signed": "signed in, {slot}",
  "trace.signed_drawn": "signed in, {slot} (with a signature)",
  "trace.countersigned": "countersigned by the facilitator ({slot})",
  "trace.countersigned_by_you": "countersigned {name}’s sign-in ({slot})",
  "trace.session_state": "session: {from} → {to}",
  "trace.session_state_reason": "session: {from} → {to} ({reason})",
  "trace.server_started": "server started",
  "trace.server_stopping": "server stopping",
  "trace.consent.recording.granted": "agreement to recording given",
  "trace.consent.recording.refused": "agreement to recording refused",
  "trace.consent.recording.withdrawn": "agreement to recording withdrawn",
  "trace.consent.sponsor_share.granted": "agreement to sharing with the sponsor given",
  "trace.consent.sponsor_share.refused": "agreement to sharing with the sponsor refused",
  "trace.consent.sponsor_share.withdrawn": "agreement to sharing with the sponsor withdrawn",
  "trace.consent.other": "decision “{consent}” ({granted})",
  "trace.other": "event “{kind}”",

  "status.label": "Connection status",
  "status.connecting": "Connecting…",
  "status.connected": "Connected",
  "status.reconnecting": "Reconnecting…",
  "status.offline": "Offline",
  "status.replaced": "Open elsewhere",
  "status.revoked": "Access revoked",
  "status.ended": "Disconnected",
  "status.left": "Left the session",

  "banner.replaced": "You opened the session in another tab or on another device: this window is disconnected.",
  "banner.resume_here": "Use this window",
  "banner.revoked": "Your access link was revoked by the organisation. Contact them if you think this is a mistake.",
  "banner.shutdown": "The server is restarting. Reconnecting automatically…",
  "banner.offline": "Connection lost. Retrying automatically…",
  "banner.protocol": "A new version of the application is available: please reload the page.",
  "banner.autoplay": "The browser blocked the other people’s sound.",
  "banner.autoplay_button": "Turn sound on",

  "call.participants": "People in the session",
  "call.you": "{name} (you)",
  "call.alone": "You are the only one here for now. Others will appear here as they arrive.",
  "call.controls": "Session controls",
  "call.mic_mute": "Mute microphone",
  "call.mic_unmute": "Unmute microphone",
  "call.cam_off": "Turn camera off",
  "call.cam_on": "Turn camera on",
  "call.leave": "Leave",
  "call.mic_is_off": "Microphone off",
  "call.cam_is_off": "Camera off",
  "call.peer_connecting": "Connecting…",
  "call.peer_failed": "Connection trouble…",
  "call.peer_joined": "{name} joined the session.",
  "call.peer_left": "{name} left the session.",
  "call.peer_lost": "{name} lost their connection.",
  "call.dismiss": "Dismiss",

  "left.title": "You have left the session",
  "left.body": "Your departure has been taken into account. You can close this page, or go back into the session.",
  "left.rejoin": "Join again",
  "left.leaving": "Recording your departure…",
  "left.receipt_kept": "A receipt for your departure is kept in this browser, with those of your sign-ins.",
  "left.no_receipt": "The server did not hand over a receipt for this departure.",

  "report.loading": "Loading the report…",
  "report.eyebrow": "Report to the sponsor · read only",
  "report.title": "Attendance report — {sponsor}",
  "report.title_plain": "Attendance report",
  "report.session": "Session",
  "report.kind": "Type",
  "report.sponsor": "Sponsor",
  "report.expected": "Expected participants",
  "report.average": "Average completion rate",
  "report.generated": "Report drawn up on {when}. This viewing link is valid until {until}.",
  "report.half_days": "Attendance by half-day",
  "report.col.half_day": "Half-day",
  "report.col.hours": "Planned hours",
  "report.col.present": "Present / expected",
  "report.col.signed": "Sign-ins",
  "report.col.completion": "Average completion rate",
  "report.no_half_days": "No half-day is planned for this session.",
  "report.completion_note": "The completion rate is the time present (connected, with the session tab visible) divided by the half-day’s planned length, capped at 100%.",
  "report.named": "Participants who agreed to be named",
  "report.col.name": "Name",
  "report.col.present_time": "Time present",
  "report.col.realisation": "Completion",
  "report.col.signin": "Sign-in",
  "report.col.total": "Whole session",
  "report.signed_yes": "signed",
  "report.signed_no": "not signed",
  "report.named_none": "No participant has agreed to be named in this report.",
  "report.anonymous": "The other participants ({n}) appear only in the aggregate figures, as they have not given their explicit agreement.",
  "report.anonymous_none": "Every participant agreed to be named.",
  "report.anonymous_withheld": "The other participants ({n}) do not appear in this report, as they have not given their explicit agreement.",
  "report.withheld": "The aggregate figures are not shown: the participants who have not agreed to be named are too few ({n}) for an average not to describe each of them.",
  "report.print": "Print",
  "report.error_title": "The report cannot be shown",
  "report.error.invalid": "Invalid report link. Check that you opened the complete link you received from the organisation, or ask them for a new one.",
  "report.error.expired": "This report link has expired. Ask the organisation for a new one.",
  "report.error.expired_at": "This report link expired on {when}. Ask the organisation for a new one.",
  "report.error.not_yet_valid": "This report link is not open yet.",
  "report.error.not_yet_valid_at": "This report link is not open yet. It opens on {when}.",
  "report.error.revoked": "This report link was revoked by the organisation.",

  "duration.hm": "{h} h {m}",
  "duration.m": "{m} min",
};

/** @type {Record<Lang, Record<MessageKey, string>>} */
const catalogues = { fr, en };

/** @type {readonly Lang[]} */
export const LANGS = ["fr", "en"];

/** @param {string | null | undefined} tag @returns {Lang | null} */
function langOf(tag) {
  const base = (tag ?? "").toLowerCase().split(/[-_]/)[0];
  return base === "fr" || base === "en" ? base : null;
}

/** `?lang=` first, then the browser's preferred languages, then French. */
function initialLang() {
  const fromUrl = langOf(new URLSearchParams(location.search).get("lang"));
  if (fromUrl) return fromUrl;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const lang = langOf(tag);
    if (lang) return lang;
  }
  return "fr";
}

/** @type {Lang} */
let current = initialLang();
/** @type {Set<() => void>} */
const listeners = new Set();

/** The language in use. */
export function lang() {
  return current;
}

/** A BCP 47 locale for `Intl` formatting. */
export function locale() {
  return current === "fr" ? "fr-FR" : "en-GB";
}

/**
 * Switches language, keeps it in the address (so a reload keeps it) and
 * tells every listener.
 * @param {Lang} next
 */
export function setLang(next) {
  if (next === current) return;
  current = next;
  document.documentElement.lang = next;
  const url = new URL(location.href);
  url.searchParams.set("lang", next);
  history.replaceState(history.state, "", url);
  for (const listener of listeners) listener();
}

/** @param {() => void} listener */
export function onLanguageChange(listener) {
  listeners.add(listener);
}

/**
 * The text for `key` in the current language, with `{name}` placeholders filled.
 * @param {MessageKey} key
 * @param {Record<string, string | number>} [args]
 */
export function t(key, args) {
  const text = catalogues[current][key] ?? fr[key] ?? key;
  if (!args) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in args ? String(args[name]) : whole));
}

/**
 * Whether `key` names a message (for codes that come from the server).
 * @param {string} key
 * @returns {key is MessageKey}
 */
export function has(key) {
  return Object.hasOwn(fr, key);
}

document.documentElement.lang = current;
