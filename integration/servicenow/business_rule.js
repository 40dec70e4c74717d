/*
 * itsm-align: async business rule on task (When: async; Insert + Update).
 * Condition field: current.sys_updated_by != gs.getProperty('itsm_align.integration_user')
 *
 * Posts one signed JSON event describing the record to the itsm-align service
 * (system property itsm_align.endpoint = <service.public_url>/webhooks/servicenow).
 * The event format is documented in the project README ("ServiceNow events").
 *
 * Signature: base64(HMAC-SHA256(key = itsm_align.secret, data = timestamp + "." + body)),
 * sent in X-ITSM-Align-Signature with X-ITSM-Align-Timestamp (unix seconds) and
 * X-ITSM-Align-Event-Id. The service rejects stale timestamps and reused ids.
 *
 * Async rules have no `previous`, so the event carries the current values only;
 * sys_mod_count lets the service drop events that arrive out of order.
 * The secret is never logged.
 */
(function executeRule(current, previous /* null when async */) {
    var DEFAULT_FIELDS = 'short_description,description,priority,state,impact,urgency,category,' +
        'subcategory,assignment_group,business_service,cmdb_ci,parent,caller_id,opened_by,' +
        'assigned_to,u_business_objective,u_alignment_score,u_alignment_rationale,u_work_nature,' +
        'time_worked,opened_at,sys_created_on';

    function text(v) {
        return (v === null || v === undefined) ? '' : String(v);
    }

    function trim(s) {
        return text(s).replace(/^\s+|\s+$/g, '');
    }

    var endpoint = trim(gs.getProperty('itsm_align.endpoint', ''));
    if (!endpoint) {
        gs.warn('itsm-align: system property itsm_align.endpoint is empty; no event sent for ' +
            current.getTableName() + ' ' + current.getValue('number'));
        return;
    }
    var secret = text(gs.getProperty('itsm_align.secret', ''));
    if (!secret) {
        gs.error('itsm-align: system property itsm_align.secret is empty; set it to the ' +
            'servicenow.webhook_secret of the itsm-align service. No event sent.');
        return;
    }

    var names = trim(gs.getProperty('itsm_align.fields', '')) || DEFAULT_FIELDS;
    names = names.split(',');
    var fields = {};
    var display = {};
    for (var i = 0; i < names.length; i++) {
        var name = trim(names[i]);
        if (!name || fields.hasOwnProperty(name) || !current.isValidField(name)) {
            continue; // columns missing on this record's table are skipped
        }
        fields[name] = text(current.getValue(name));
        var descriptor = current.getElement(name).getED();
        if (descriptor.getInternalType() == 'reference' || descriptor.isChoiceTable()) {
            display[name] = text(current.getDisplayValue(name));
        }
    }

    var table = text(current.getTableName());
    var modCount = parseInt(text(current.getValue('sys_mod_count')), 10) || 0;
    var operation = (typeof current.operation === 'function') ? text(current.operation()) : '';
    if (operation != 'insert' && operation != 'update') {
        operation = modCount === 0 ? 'insert' : 'update';
    }
    var eventId = text(gs.generateGUID());
    var event = {
        event_id: eventId,
        operation: operation,
        table: table,
        sys_class_name: text(current.getValue('sys_class_name')) || table,
        sys_id: text(current.getUniqueValue()),
        number: text(current.getValue('number')),
        sys_mod_count: modCount,
        sys_updated_on: text(current.getValue('sys_updated_on')),
        sys_updated_by: text(current.getValue('sys_updated_by')),
        fields: fields,
        display: display
    };
    var body = JSON.stringify(event);
    var timestamp = String(Math.floor(new Date().getTime() / 1000));
    var signature = new CertificateEncryption().generateMac(
        gs.base64Encode(secret), 'HmacSHA256', timestamp + '.' + body);

    try {
        var request = new sn_ws.RESTMessageV2();
        request.setEndpoint(endpoint);
        request.setHttpMethod('post');
        request.setRequestHeader('Content-Type', 'application/json');
        request.setRequestHeader('X-ITSM-Align-Event-Id', eventId);
        request.setRequestHeader('X-ITSM-Align-Timestamp', timestamp);
        request.setRequestHeader('X-ITSM-Align-Signature', signature);
        request.setRequestBody(body);
        request.setHttpTimeout(10000);
        var midServer = trim(gs.getProperty('itsm_align.mid_server', ''));
        if (midServer) {
            request.setMIDServer(midServer); // endpoints reachable only on-premises
        }
        request.executeAsync();
    } catch (ex) {
        gs.error('itsm-align: could not post the event for ' + table + ' ' + event.number +
            ' to ' + endpoint + ': ' + (ex && ex.message ? ex.message : ex));
    }
})(current, previous);
