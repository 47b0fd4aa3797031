"""The visitor-facing words in Japanese and English, and the choice between them."""

LANGS = ("ja", "en")

MESSAGES = {
    "en": {
        "title_thanks": "Thank you",
        "title_confirm": "Please check your entries",
        "confirm_intro": "Nothing has been sent yet. If everything is right, press Send.",
        "confirm_back": "Back",
        "confirm_send": "Send",
        "confirm_expired": "The confirmation page has expired or was changed. Please go back and send the form again.",
        "thanks": "Your message has been received.",
        "reference": "Reference number",
        "reference_hint": "Please quote this number if you contact us about your message.",
        "title_error": "Please check your entry",
        "title_refused": "The form could not be sent",
        "errors_intro": "Some fields need your attention:",
        "invalid_fields": "Some fields need your attention.",
        "your_input": "What you entered (nothing has been sent):",
        "go_back": "Use your browser's Back button to correct the form; your entries are kept there.",
        "title_installed": "formmail",
        "installed": "formmail is installed. Send your form here with the POST method.",
        "required": "{label}: please fill this in.",
        "too_long": "{label}: please keep this to {max} characters.",
        "one_line": "{label}: please write this on one line.",
        "control_char": "{label}: contains characters that cannot be sent.",
        "encoded_word": "{label}: contains a coded sequence (=?...?=) that cannot be sent.",
        "bad_email": "{label}: please enter one e-mail address, like name@example.com.",
        "bad_encoding": "{label}: the text could not be read in the form's character encoding.",
        "method_not_allowed": "This address only accepts forms sent with the POST method.",
        "length_required": "The form was sent without a length; please send it again.",
        "too_large": "The form is too large to send (at most {limit} bytes).",
        "too_many_fields": "The form has too many fields (at most {limit}).",
        "unsupported_media_type": "The form was sent in a format this address does not accept.",
        "malformed_body": "The form data could not be read; please send it again.",
        "unknown_charset": "The form uses a character encoding that is not supported.",
        "unknown_form": "This form is not set up on the server (unknown _form value).",
        "upload_refused": "{label}: this form does not accept file attachments.",
        "upload_type": "{label}: please attach a file of one of these types: {types}.",
        "upload_size": "{label}: the file is too large (at most {max} bytes).",
        "bad_request": "The form could not be read; please send it again.",
        "origin_refused": "This form can only be sent from its own website.",
        "too_many_requests": "Too many messages have been sent. Please try again in {minutes} minutes.",
        "form_expired": "The form has expired. Please reload the page and send it again.",
        "log_unavailable": "Your message could not be saved just now, so it was not sent. "
                           "Please try again in a few minutes.",
        "internal": "Something went wrong on the server. Your message was not sent; "
                    "please try again later.",
    },
    "ja": {
        "title_thanks": "送信完了",
        "title_confirm": "入力内容の確認",
        "confirm_intro": "まだ送信されていません。内容をご確認のうえ「送信する」を押してください。",
        "confirm_back": "戻って修正する",
        "confirm_send": "送信する",
        "confirm_expired": "確認画面の有効期限が切れたか、内容が変更されています。前の画面に戻り、もう一度送信してください。",
        "thanks": "お問い合わせを受け付けました。ありがとうございました。",
        "reference": "受付番号",
        "reference_hint": "この件でご連絡いただく際は、受付番号をお知らせください。",
        "title_error": "入力内容をご確認ください",
        "title_refused": "送信できませんでした",
        "errors_intro": "次の項目をご確認ください。",
        "invalid_fields": "入力内容に確認が必要な項目があります。",
        "your_input": "ご入力内容（まだ送信されていません）:",
        "go_back": "ブラウザの「戻る」ボタンで入力画面に戻り、修正してください。入力内容はそのまま残っています。",
        "title_installed": "formmail",
        "installed": "formmail は設置済みです。フォームは POST で送信してください。",
        "required": "{label}：入力してください。",
        "too_long": "{label}：{max}文字以内で入力してください。",
        "one_line": "{label}：改行を含めずに入力してください。",
        "control_char": "{label}：送信できない文字が含まれています。",
        "encoded_word": "{label}：送信できない符号化文字列（=?...?=）が含まれています。",
        "bad_email": "{label}：メールアドレスを1件、name@example.com の形で入力してください。",
        "bad_encoding": "{label}：文字コードが正しくないため読み取れませんでした。",
        "method_not_allowed": "このアドレスは POST で送信されたフォームのみ受け付けます。",
        "length_required": "送信データの長さが不明です。もう一度送信してください。",
        "too_large": "送信データが大きすぎます（上限 {limit} バイト）。",
        "too_many_fields": "項目の数が多すぎます（上限 {limit} 個）。",
        "unsupported_media_type": "受け付けられない形式で送信されました。",
        "malformed_body": "送信データを読み取れませんでした。もう一度送信してください。",
        "unknown_charset": "対応していない文字コードで送信されました。",
        "unknown_form": "このフォームはサーバーに設定されていません（_form の値が不明です）。",
        "upload_refused": "{label}：このフォームではファイルを添付できません。",
        "upload_type": "{label}：添付できるファイルの種類は {types} です。",
        "upload_size": "{label}：ファイルが大きすぎます（上限 {max} バイト）。",
        "bad_request": "送信データを読み取れませんでした。もう一度送信してください。",
        "origin_refused": "このフォームは設置されているサイトからのみ送信できます。",
        "too_many_requests": "送信が集中しています。{minutes}分ほど時間をおいてから、もう一度お試しください。",
        "form_expired": "フォームの有効期限が切れました。ページを再読み込みしてから、もう一度送信してください。",
        "log_unavailable": "ただいま受付内容を保存できないため、送信を中止しました。数分後にもう一度お試しください。",
        "internal": "サーバーでエラーが起きました。送信されていません。しばらくしてからもう一度お試しください。",
    },
}


def choose_language(setting, accept_language):
    """`ja` or `en`: the config's choice, or with `auto` the visitor's first preference of the two."""
    if setting in LANGS:
        return setting
    best, best_q = "en", 0.0
    for item in (accept_language or "").split(","):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = tag.strip().lower().split("-")[0]
        if lang in LANGS and q > best_q:
            best, best_q = lang, q
    return best


def message(lang, code, **params):
    """The visitor's sentence for `code`, filled with `params`."""
    table = MESSAGES[lang]
    text = table.get(code) or table["bad_request"]
    try:
        return text.format(**params)
    except (KeyError, IndexError):
        return text
