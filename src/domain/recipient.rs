//! Where each part of a reply goes. One definition for the server, which delivers to it, and
//! the console, which shows it in the composer before the agent sends: the two must never
//! disagree (a console promising a direct message the server then refuses).

use super::{Channel, Customer, Feedback, Visibility};

/// The exact destination of one part: a channel and an address on it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyRecipient {
    pub channel: Channel,
    pub address: String,
}

impl ReplyRecipient {
    /// What the composer shows: `@handle@x (public thread)`, `@handle@x (direct message)`,
    /// `ann@example.com (email)`.
    pub fn label(&self, feedback: &Feedback, visibility: Visibility) -> String {
        let on_network = self.channel == feedback.channel
            && (self.channel.has_public_thread() || self.channel.has_direct_messages());
        if on_network {
            let handle = self.address.trim_start_matches('@');
            let kind = match visibility {
                Visibility::Public => "public thread",
                Visibility::Direct => "direct message",
            };
            format!("@{handle}@{} ({kind})", self.channel)
        } else {
            format!("{} ({})", self.address, self.channel)
        }
    }
}

/// Channels whose conversation is already private and one-to-one: a direct reply goes back on it.
fn is_private_conversation(channel: Channel) -> bool {
    matches!(
        channel,
        Channel::Email | Channel::Sms | Channel::Whatsapp | Channel::Webchat
    )
}

/// Picks where a part goes: public parts to the thread on the feedback's channel; direct parts
/// back on a private conversation (email, SMS, WhatsApp, web chat), or to a direct message on the
/// same network when the customer can be reached there, otherwise to their preferred direct
/// channel that they consented to. `customer` is the CRM record linked to the item, if any.
pub fn recipient(
    feedback: &Feedback,
    customer: Option<&Customer>,
    visibility: Visibility,
) -> Result<ReplyRecipient, String> {
    let on_thread = ReplyRecipient {
        channel: feedback.channel,
        address: feedback.author.handle.clone(),
    };
    match visibility {
        Visibility::Public if feedback.channel.has_public_thread() => Ok(on_thread),
        Visibility::Public => Err(format!(
            "{} has no public thread; send a direct reply",
            feedback.channel
        )),
        Visibility::Direct => {
            let consents = customer.map(|c| &c.preferences.consents);
            let same_network_ok = match feedback.channel {
                c if is_private_conversation(c) => true,
                c if c.has_direct_messages() => consents.is_none_or(|c| c.social_dm),
                _ => false,
            };
            if same_network_ok {
                return Ok(on_thread);
            }
            let customer = customer.ok_or_else(|| {
                format!(
                    "{} has no direct messages and the author is not linked to a customer",
                    feedback.channel
                )
            })?;
            preferred_direct(customer)
                .ok_or_else(|| "the customer has not consented to any direct channel".to_string())
        }
    }
}

/// Whether the route of a part depends on the linked customer's record (their consents or
/// contact details), so a console must have the profile before it can say where the part goes.
pub fn needs_customer(feedback: &Feedback, visibility: Visibility) -> bool {
    visibility == Visibility::Direct && !is_private_conversation(feedback.channel)
}

fn preferred_direct(c: &Customer) -> Option<ReplyRecipient> {
    let consents = &c.preferences.consents;
    let by_channel = |ch: Channel| -> Option<ReplyRecipient> {
        let address = match ch {
            Channel::Email if consents.email => c.emails.first()?.clone(),
            Channel::Sms if consents.sms => c.phones.first()?.clone(),
            Channel::Whatsapp if consents.whatsapp => c.phones.first()?.clone(),
            _ => return None,
        };
        Some(ReplyRecipient {
            channel: ch,
            address,
        })
    };
    by_channel(c.preferences.preferred_channel)
        .or_else(|| by_channel(Channel::Email))
        .or_else(|| by_channel(Channel::Sms))
        .or_else(|| by_channel(Channel::Whatsapp))
}
